/**
 * What the CLI prints on stdout when a command ends: for a person, `list` as an aligned table and
 * the other commands' outputs as aligned `name  value` lines; for a machine (`--json`), the
 * outputs as one JSON object, named as action.yml's outputs.
 */
import Table from 'cli-table3';
import { formatBytes } from '../format.js';
import type { ListedBackup } from '../report/retention-report.js';

/**
 * The `--json` document: every output the action would set, by name. Values the action sets as
 * JSON text (`backups`, `temporary-files`) are embedded as JSON, the others are the same strings.
 */
export function jsonDocument(outputs: Readonly<Record<string, string>>): string {
  const document: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(outputs)) document[name] = JSON_OUTPUTS.has(name) ? parse(value) : value;
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Outputs whose value is JSON text (action.yml: "JSON array of …"). */
const JSON_OUTPUTS = new Set(['backups', 'temporary-files']);

function parse(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** The result for a person: the `list` table, or the outputs as aligned lines ('' when none). */
export function humanResult(command: string, outputs: Readonly<Record<string, string>>): string {
  if (command === 'list') return listTable(outputs['backups'] ?? '[]');
  const entries = Object.entries(outputs).filter(([, value]) => value !== '');
  if (entries.length === 0) return '';
  const width = Math.max(...entries.map(([name]) => name.length));
  return `${entries.map(([name, value]) => `${name.padEnd(width)}  ${value.replace(/\n/g, `\n${' '.repeat(width + 2)}`)}`).join('\n')}\n`;
}

/** `list`: one row per backup (time, label, size, complete, what the policy would do, key). */
function listTable(json: string): string {
  const backups = parse(json);
  if (!Array.isArray(backups) || backups.length === 0) return 'No backups.\n';
  const table = new Table({
    head: ['TIME (UTC)', 'LABEL', 'SIZE', 'COMPLETE', 'RETENTION', 'DESTINATION', 'KEY'],
    chars: NO_BORDERS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2 },
  });
  for (const backup of backups as ListedBackup[]) {
    table.push([
      backup.time.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''),
      backup.label ?? '',
      formatBytes(backup.sizeBytes),
      backup.complete ? 'yes' : 'no (no manifest)',
      backup.retention ? `${backup.retention.action} (${backup.retention.reasons.join(', ')})` : '',
      backup.destination,
      backup.key,
    ]);
  }
  return `${table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}\n`;
}

/** cli-table3 without box drawing: columns aligned by spaces only. */
const NO_BORDERS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '',
};
