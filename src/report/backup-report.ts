import { ActionError, UploadError } from '../errors.js';
import { formatBytes } from '../format.js';
import type { Manifest } from '../manifest.js';
import { anomalyTable, type AnomalyFindings, type AnomalyPolicy } from '../retention/anomaly.js';

/** One destination's outcome. */
export interface DestinationResult {
  url: string;
  key: string;
  manifestKey: string;
  ok: boolean;
  error?: string;
}

/** What a successful backup produced (outputs and summary are made from it). */
export interface BackupResult {
  manifest: Manifest;
  destinations: DestinationResult[];
  /** Bytes per second of archive stored, over the dump+upload phase. */
  throughput: number;
}

/**
 * Some destinations stored and verified the archive and its manifest, others failed. `result` holds
 * every destination (`ok` false with `error` for the failed ones); the backup as a whole failed.
 * Declared beside the result it carries: errors.ts and backup/ sit below report/ and cannot name it.
 */
export class PartialBackupError extends UploadError {
  constructor(
    message: string,
    readonly result: BackupResult,
  ) {
    super(message);
  }
}

/**
 * The backup was stored and verified, but it is anomalous against the previous one and the
 * `anomaly` input is `fail`. The backup stands; retention kept the previous good one.
 */
export class AnomalyError extends ActionError {
  constructor(message: string) {
    super(message, 'verify');
  }
}

/**
 * Step outputs of `command: backup` (names as declared in action.yml). When some destinations
 * failed, `backup-key` and `manifest-key` are those of the first destination that stored the backup,
 * and `backup-urls` lists only the destinations that stored it.
 */
export function backupOutputs(result: BackupResult): Record<string, string> {
  const { manifest } = result;
  const stored = result.destinations.filter((d) => d.ok);
  const first = stored[0];
  return {
    'backup-key': first?.key ?? '',
    'manifest-key': first?.manifestKey ?? '',
    'backup-urls': stored.map((d) => `${d.url.replace(/\/+$/, '')} ${d.key}`).join('\n'),
    'size-bytes': String(manifest.archive.bytes),
    sha256: manifest.archive.sha256,
    'duration-seconds': String(manifest.durationSeconds),
    'server-version': manifest.server.version,
  };
}

/** The summary's line for the files archive (docs/files.md). */
export function filesRow(files: NonNullable<BackupResult['manifest']['files']>): [string, string] {
  const skipped = files.skipped.length > 0 ? `; ${files.skipped.length} special file(s) skipped` : '';
  return [
    'Files',
    `${files.fileCount} file(s), ${formatBytes(files.totalBytes)} → \`${files.key}\` (${formatBytes(files.bytes)}, ${files.compression}${files.encrypted ? ', encrypted' : ''}; sha256 \`${files.sha256.slice(0, 12)}…\`)${skipped}`,
  ];
}

/** Markdown for the job summary: what was backed up, where, how big, how fast. */
export function backupSummary(result: BackupResult): string {
  const { manifest: m } = result;
  const rows: [string, string][] = [
    ['Database', `\`${m.database}\` (PostgreSQL ${m.server.version})`],
    ['Label', m.label ?? '—'],
    [
      'Format',
      `${m.format}, compression ${m.compression.method}${m.compression.level === null ? '' : `:${m.compression.level}`} (${m.compression.where})`,
    ],
    [
      'Archive size',
      `${formatBytes(m.archive.bytes)} (${m.archive.bytes} bytes; database ${formatBytes(m.databaseSizeBytes)})`,
    ],
    ['Duration', `${m.durationSeconds} s`],
    ['Throughput', `${formatBytes(result.throughput)}/s`],
    ['SHA-256', `\`${m.archive.sha256}\``],
    [
      'Tables',
      `${m.rowCounts.tables.length} (${m.rowCounts.tables.reduce((n, t) => n + t.rows, 0)} rows, ${m.rowCounts.mode})`,
    ],
    ...(m.files ? [filesRow(m.files)] : []),
    ['pg_dump', m.client.pgDumpVersion],
  ];
  const table = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  const failed = result.destinations.filter((d) => !d.ok);
  if (failed.length === 0) {
    const where = [
      '| Destination | Object key |',
      '|---|---|',
      ...result.destinations.map((d) => `| ${d.url} | \`${d.key}\` |`),
    ].join('\n');
    return `## PostgreSQL backup: ${m.database}\n\n${table}\n\n${where}\n`;
  }
  // Some destinations failed: every one gets a row saying whether it holds the backup.
  const cell = (text: string): string => text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const where = [
    '| Destination | Object key | Result |',
    '|---|---|---|',
    ...result.destinations.map(
      (d) =>
        `| ${d.url} | ${d.ok ? `\`${d.key}\`` : '—'} | ${d.ok ? '✅ stored and verified' : `❌ failed: ${cell(d.error ?? 'unknown error')}`} |`,
    ),
  ].join('\n');
  const heading = `## PostgreSQL backup: ${m.database} (❌ ${failed.length} of ${result.destinations.length} destinations failed: ${failed.map((d) => d.url).join(', ')})`;
  return `${heading}\n\n${table}\n\n${where}\n`;
}

/**
 * The anomaly section of a backup's summary: the table (table, before, now, change) against the
 * previous complete backup, and notes; empty when there is nothing to say.
 */
export function anomalySummary(
  assessment: { previousKey?: string; findings: AnomalyFindings },
  mode: AnomalyPolicy['mode'],
): string {
  const { anomalies, notes } = assessment.findings;
  if (anomalies.length === 0 && notes.length === 0) return '';
  const lines: string[] = [];
  if (anomalies.length > 0) {
    lines.push(
      `### ${mode === 'fail' ? '❌' : '⚠️'} Anomalies against \`${assessment.previousKey ?? 'the previous backup'}\``,
      '',
      ...anomalyTable(anomalies),
      '',
      'Retention keeps the previous good backup until a later normal backup.',
    );
  }
  if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}
