/**
 * Which commands use which inputs: one table, read by main to warn about inputs set for a command
 * that ignores them (`confirm` on backup, `keep-last` on restore, …). Inputs not listed apply to
 * every command (destination, s3-*, database and its connection, reporting, summary).
 */
import { INPUT_DEFAULTS } from './inputs.js';
import type { InputReader } from './reader.js';
import type { Command } from './types.js';

const BACKUP_RESTORE_DRILL: readonly Command[] = ['backup', 'restore', 'drill'];
const RETENTION: readonly Command[] = ['backup', 'prune', 'list'];
const RESTORE_DRILL: readonly Command[] = ['restore', 'drill'];

/** Input → the commands that read it. */
export const INPUT_COMMANDS: Readonly<Record<string, readonly Command[]>> = {
  // What pg_dump does and how the archive is written.
  format: ['backup'],
  compression: ['backup'],
  schema: ['backup', 'restore'],
  'exclude-schema': ['backup', 'restore'],
  table: ['backup', 'restore'],
  'exclude-table': ['backup', 'restore'],
  'exclude-table-data': ['backup'],
  'schema-only': ['backup'],
  'data-only': ['backup'],
  globals: ['backup'],
  files: ['backup'],
  'files-exclude': ['backup'],
  'files-optional': ['backup'],
  'pg-dump-args': ['backup'],
  label: ['backup'],
  'row-counts': ['backup'],
  verify: ['backup'],
  'lock-wait-timeout': ['backup'],
  'encryption-public-key': ['backup'],
  'encryption-passphrase': ['backup'],
  's3-storage-class': ['backup'],
  's3-sse': ['backup'],
  's3-sse-kms-key-id': ['backup'],
  // pg_dump's or pg_restore's.
  jobs: BACKUP_RESTORE_DRILL,
  'no-owner': BACKUP_RESTORE_DRILL,
  'no-privileges': BACKUP_RESTORE_DRILL,
  'install-client': BACKUP_RESTORE_DRILL,
  'client-version': BACKUP_RESTORE_DRILL,
  // Retention: applied after a backup, alone by prune, previewed by list.
  'keep-last': RETENTION,
  'keep-daily': RETENTION,
  'keep-weekly': RETENTION,
  'keep-monthly': RETENTION,
  'keep-yearly': RETENTION,
  'keep-within': RETENTION,
  'keep-label': RETENTION,
  prune: RETENTION,
  'prune-dry-run': RETENTION,
  // Restores and drills.
  'decryption-private-key': RESTORE_DRILL,
  'decryption-private-key-passphrase': RESTORE_DRILL,
  'decryption-passphrase': RESTORE_DRILL,
  'backup-key': ['restore', 'drill', 'check'],
  'target-database-url': RESTORE_DRILL,
  'target-host': RESTORE_DRILL,
  'target-port': RESTORE_DRILL,
  'target-username': RESTORE_DRILL,
  'target-password': RESTORE_DRILL,
  'target-database': RESTORE_DRILL,
  'target-sslmode': RESTORE_DRILL,
  confirm: RESTORE_DRILL,
  'restore-globals': RESTORE_DRILL,
  'database-properties': RESTORE_DRILL,
  'files-target': ['restore'],
  'files-only': ['restore'],
  'files-overwrite': ['restore'],
  clean: ['restore'],
  'create-database': ['restore'],
  'drop-after': ['drill'],
  'drill-sql': ['drill'],
  // Several databases in one run (restore takes one).
  'exclude-database': ['backup', 'prune', 'list', 'drill', 'check'],
  'parallel-databases': ['backup', 'prune', 'list', 'drill', 'check'],
  // Freshness check.
  'max-age': ['check'],
  'min-size-ratio': ['check'],
  'expect-label': ['check'],
  // Per-table anomalies: after a backup, and of the newest backup in check.
  anomaly: ['backup', 'check'],
  'max-row-drop': ['backup', 'check', 'prune'],
};

/**
 * The inputs set (non-empty and different from their action.yml default: the runner passes the
 * defaults of unset inputs) that `command` does not read, in action.yml order. Pure.
 */
export function inapplicableInputs(command: Command, read: InputReader): string[] {
  return Object.keys(INPUT_DEFAULTS).filter((name) => {
    const commands = INPUT_COMMANDS[name];
    if (commands === undefined || commands.includes(command)) return false;
    const value = read(name).trim();
    const fallback = INPUT_DEFAULTS[name] ?? '';
    return value !== '' && value !== fallback;
  });
}

/** The one warning for {@link inapplicableInputs}, or undefined when there are none. */
export function inapplicableInputsWarning(command: Command, read: InputReader): string | undefined {
  const names = inapplicableInputs(command, read);
  if (names.length === 0) return undefined;
  const uses = (name: string): string => (INPUT_COMMANDS[name] ?? []).join(', ');
  return (
    `${names.length === 1 ? 'Input' : 'Inputs'} ${names.map((n) => `'${n}' (${uses(n)})`).join(', ')} ${names.length === 1 ? 'does' : 'do'} not apply to command ${command} and ${names.length === 1 ? 'is' : 'are'} ignored. ` +
    `Remove ${names.length === 1 ? 'it' : 'them'} from this step, or check \`command\`.`
  );
}
