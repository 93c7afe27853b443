/** Step outputs and job summary of `command: restore`, and the result they are made from. */
import { formatBytes } from '../format.js';
import type { Manifest } from '../manifest.js';
import type { StreamOutcome } from '../restore/stream.js';

/** What a restore did (outputs and summary are made from it). */
export interface RestoreResult {
  key: string;
  url: string;
  manifest: Manifest;
  target: { host: string; port: number; database: string };
  createdDatabase: boolean;
  /** The globals file (roles) was applied first. */
  globalsApplied: boolean;
  /** Wall seconds from the start of the download to the tool's successful exit. */
  restoreSeconds: number;
  /** Archive bytes per second over that time. */
  throughput: number;
  mode: StreamOutcome['mode'];
  pgRestoreVersion: string;
}

/** Step outputs of `command: restore` (names as in action.yml). */
export function restoreOutputs(result: RestoreResult): Record<string, string> {
  return { 'restored-key': result.key, 'restore-seconds': String(result.restoreSeconds) };
}

/** Markdown for the job summary of a restore. */
export function restoreSummary(result: RestoreResult): string {
  const m = result.manifest;
  const rows: [string, string][] = [
    ['Backup', `\`${result.key}\` (${result.url})`],
    ['Taken', `${m.startedAt} from PostgreSQL ${m.server.version}`],
    [
      'Restored into',
      `\`${result.target.database}\` on ${result.target.host}:${result.target.port}${result.createdDatabase ? ' (created)' : ''}`,
    ],
    ['Format', `${m.format} via ${result.mode}`],
    ['Archive size', `${formatBytes(m.archive.bytes)} (${m.archive.bytes} bytes), SHA-256 verified`],
    ['Restore time', `${result.restoreSeconds} s (${formatBytes(result.throughput)}/s)`],
    ['Globals', result.globalsApplied ? 'applied' : 'not applied'],
    ['pg_restore', result.pgRestoreVersion],
  ];
  return `## PostgreSQL restore: ${m.database}\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
}
