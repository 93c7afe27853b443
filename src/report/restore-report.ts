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
  /** How the database was restored; `none` with `filesOnly`. */
  mode: StreamOutcome['mode'] | 'none';
  /** pg_restore's version; '' with `filesOnly`. */
  pgRestoreVersion: string;
  /** The files archive restored into `files-target` (after the database, or alone). */
  files?: RestoredFiles;
  /** `files-only`: the database was not restored (`target` and `createdDatabase` say nothing). */
  filesOnly?: boolean;
}

/** The files archive a restore extracted (docs/files.md, "Restore and drill"). */
export interface RestoredFiles {
  /** Object key of the files archive, and its stored bytes (SHA-256 verified). */
  key: string;
  storedBytes: number;
  /** The folder written into (absolute). */
  folder: string;
  /** Regular files and their bytes; every entry (files, folders, links). */
  files: number;
  bytes: number;
  entries: number;
  seconds: number;
}

/** Step outputs of `command: restore` (names as in action.yml). */
export function restoreOutputs(result: RestoreResult): Record<string, string> {
  return { 'restored-key': result.key, 'restore-seconds': String(result.restoreSeconds) };
}

/** Markdown for the job summary of a restore. */
export function restoreSummary(result: RestoreResult): string {
  const m = result.manifest;
  const f = result.files;
  const files: [string, string][] = f
    ? [
        [
          'Files',
          `${f.files} files (${formatBytes(f.bytes)}), ${f.entries} entries into \`${f.folder}\` in ${f.seconds} s; \`${f.key}\` (${formatBytes(f.storedBytes)}), SHA-256 verified`,
        ],
      ]
    : [];
  const backup: [string, string][] = [
    ['Backup', `\`${result.key}\` (${result.url})`],
    ['Taken', `${m.startedAt} from PostgreSQL ${m.server.version}`],
  ];
  if (result.filesOnly) return table(m.database, [...backup, ...files, ['Database', 'not restored (files-only)']]);
  const rows: [string, string][] = [
    ...backup,
    [
      'Restored into',
      `\`${result.target.database}\` on ${result.target.host}:${result.target.port}${result.createdDatabase ? ' (created)' : ''}`,
    ],
    ['Format', `${m.format} via ${result.mode}`],
    ['Archive size', `${formatBytes(m.archive.bytes)} (${m.archive.bytes} bytes), SHA-256 verified`],
    ['Restore time', `${result.restoreSeconds} s (${formatBytes(result.throughput)}/s)`],
    ['Globals', result.globalsApplied ? 'applied' : 'not applied'],
    ['pg_restore', result.pgRestoreVersion],
    ...files,
  ];
  return table(m.database, rows);
}

function table(database: string, rows: [string, string][]): string {
  return `## PostgreSQL restore: ${database}\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
}
