/**
 * What a run over several databases (`database: all` or a list; docs/databases.md) reports: the
 * `backups-json` output, the job summary's table with one row per database, and the one error that
 * fails the run when a database failed.
 */
import { ActionError, type Phase } from '../errors.js';
import { formatBytes, formatDuration, round3 } from '../format.js';

/** How one database of the run ended. `skipped`: left out by `exclude-database`. */
export type DatabaseStatus = 'ok' | 'failed' | 'skipped';

/** One database of the run: one element of `backups-json`, one row of the summary. */
export interface DatabaseOutcome {
  database: string;
  status: DatabaseStatus;
  /** backup: the archive's key (first destination that stored it). */
  key?: string;
  manifestKey?: string;
  /** backup: the archive's size, bytes. */
  bytes?: number;
  /** backup: the archive's SHA-256, hex. */
  sha256?: string;
  /** Wall time of this database's command, seconds (0 when skipped). */
  seconds: number;
  /** `failed`: the error's message (already redacted). */
  error?: string;
  /** `failed`: the phase the error happened in. */
  phase?: Phase;
  /** The Markdown job summary this database's command wrote, if any. */
  summary?: string;
}

/**
 * The `backups-json` output: a JSON array, one element per database in the run's order, each
 * `{ database, status, key?, manifestKey?, bytes?, sha256?, seconds, error? }` (undefined fields
 * left out; seconds rounded to ms).
 */
export function backupsJson(outcomes: readonly DatabaseOutcome[]): string {
  return JSON.stringify(
    outcomes.map((o) => ({
      database: o.database,
      status: o.status,
      ...(o.key === undefined ? {} : { key: o.key }),
      ...(o.manifestKey === undefined ? {} : { manifestKey: o.manifestKey }),
      ...(o.bytes === undefined ? {} : { bytes: o.bytes }),
      ...(o.sha256 === undefined ? {} : { sha256: o.sha256 }),
      seconds: round3(o.seconds),
      ...(o.error === undefined ? {} : { error: o.error }),
    })),
  );
}

/** The step output of a run's databases (every backup, and list/check/prune/drill over several). */
export function databasesOutputs(outcomes: readonly DatabaseOutcome[]): Record<string, string> {
  return { 'backups-json': backupsJson(outcomes) };
}

/** Under a minute to a tenth of a second (`0.8 s`), else as {@link formatDuration}. */
function seconds(value: number): string {
  return value < 59.95 ? `${value.toFixed(1)} s` : formatDuration(value);
}

/**
 * One database's own summary as a section of the run's: its headings one level down (under the
 * run's `##`), or a `###` heading with its name when it has none of its own.
 */
function section(database: string, summary: string): string {
  const text = summary.trim();
  if (!text.startsWith('#')) return `### \`${cell(database)}\`\n\n${text}\n`;
  return `${text.replace(/^(#{1,5}) /gm, '#$1 ')}\n`;
}

/** A Markdown table cell: no line breaks, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/**
 * The job summary of a run over several databases: a heading, a table with one row per database
 * (database, status, size, the first 12 hex digits of the SHA-256, duration) and a Total row (how
 * many ok/failed/skipped, the sizes summed, the run's wall time), each failed database's reason,
 * then each database's own summary (its headings one level down).
 * @param command the command that ran (`backup`, `list`, …).
 * @param wallSeconds the whole run's wall time (with `parallel-databases`, less than the sum).
 */
export function databasesSummary(command: string, outcomes: readonly DatabaseOutcome[], wallSeconds: number): string {
  const rows = outcomes.map((o) => {
    const status = o.status === 'ok' ? '✅ ok' : o.status === 'failed' ? '❌ failed' : '⏭️ skipped';
    const size = o.bytes === undefined ? '—' : formatBytes(o.bytes);
    const sha = o.sha256 === undefined ? '—' : `\`${o.sha256.slice(0, 12)}\``;
    const duration = o.status === 'skipped' ? '—' : seconds(o.seconds);
    return `| \`${cell(o.database)}\` | ${status} | ${size} | ${sha} | ${duration} |`;
  });
  const count = (status: DatabaseStatus): number => outcomes.filter((o) => o.status === status).length;
  const bytes = outcomes.reduce((sum, o) => sum + (o.bytes ?? 0), 0);
  const counts = [`${count('ok')} ok`, `${count('failed')} failed`, `${count('skipped')} skipped`].join(', ');
  const total = `| **Total** (${outcomes.length}) | ${counts} | ${bytes > 0 ? formatBytes(bytes) : '—'} | | ${seconds(wallSeconds)} |`;
  const failures = outcomes
    .filter((o) => o.status === 'failed')
    .map((o) => `- \`${cell(o.database)}\`: ${cell(o.error ?? 'failed')}`);
  const sections = outcomes
    .filter((o) => o.summary !== undefined && o.summary.trim() !== '')
    .map((o) => section(o.database, o.summary as string));
  return [
    `## ${command}: ${outcomes.length} databases\n`,
    '| Database | Status | Size | SHA-256 | Duration |',
    '|---|---|---|---|---|',
    ...rows,
    total,
    ...(failures.length > 0 ? ['', '**Failed:**', '', ...failures] : []),
    '',
    ...sections,
  ].join('\n');
}

/**
 * The run's error when some databases failed: names each with its reason. Its phase is the first
 * failure's; its message is what the failure issue, the webhook and the heartbeat's fail body show.
 */
export class DatabasesError extends ActionError {
  constructor(
    readonly outcomes: readonly DatabaseOutcome[],
    command: string,
  ) {
    const failed = outcomes.filter((o) => o.status === 'failed');
    const ok = outcomes.filter((o) => o.status === 'ok').map((o) => o.database);
    super(
      `${command} failed for ${failed.length} of ${outcomes.filter((o) => o.status !== 'skipped').length} databases: ` +
        failed.map((o) => `${o.database} (${o.phase ?? 'config'}: ${o.error ?? 'failed'})`).join('; ') +
        (ok.length > 0
          ? `. ${command === 'backup' ? 'Stored and verified' : 'Done'}: ${ok.join(', ')}.`
          : '. No database succeeded.') +
        ' Fix the causes named and run again; each database is handled on its own.',
      failed[0]?.phase ?? 'config',
    );
  }
}
