import type { BackupResult } from '../commands/backup.js';
import { formatBytes } from '../commands/backup.js';

/** Step outputs of `command: backup` (names as declared in action.yml). */
export function backupOutputs(result: BackupResult): Record<string, string> {
  const { manifest } = result;
  const first = result.destinations[0];
  return {
    'backup-key': manifest.archive.key,
    'manifest-key': first?.manifestKey ?? '',
    'backup-urls': result.destinations.map((d) => `${d.url.replace(/\/+$/, '')} ${d.key}`).join('\n'),
    'size-bytes': String(manifest.archive.bytes),
    sha256: manifest.archive.sha256,
    'duration-seconds': String(manifest.durationSeconds),
    'server-version': manifest.server.version,
  };
}

/** Markdown for the job summary: what was backed up, where, how big, how fast. */
export function backupSummary(result: BackupResult): string {
  const { manifest: m } = result;
  const rows: [string, string][] = [
    ['Database', `\`${m.database}\` (PostgreSQL ${m.server.version})`],
    ['Label', m.label ?? '—'],
    ['Format', `${m.format}, compression ${m.compression.method}${m.compression.level === null ? '' : `:${m.compression.level}`} (${m.compression.where})`],
    ['Archive size', `${formatBytes(m.archive.bytes)} (${m.archive.bytes} bytes; database ${formatBytes(m.databaseSizeBytes)})`],
    ['Duration', `${m.durationSeconds} s`],
    ['Throughput', `${formatBytes(result.throughput)}/s`],
    ['SHA-256', `\`${m.archive.sha256}\``],
    ['Tables', `${m.rowCounts.tables.length} (${m.rowCounts.tables.reduce((n, t) => n + t.rows, 0)} rows, ${m.rowCounts.mode})`],
    ['pg_dump', m.client.pgDumpVersion],
  ];
  const table = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  const where = ['| Destination | Object key |', '|---|---|', ...result.destinations.map((d) => `| ${d.url} | \`${d.key}\` |`)].join('\n');
  return `## PostgreSQL backup: ${m.database}\n\n${table}\n\n${where}\n`;
}
