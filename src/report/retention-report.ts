/** Outputs, job summaries and the JSON `backups` output of `command: prune` / `command: list`. */
import { formatBytes } from '../format.js';
import { describeFilesPart, type FilesPart } from '../retention/files-parts.js';
import type { DestinationListing } from '../retention/list-destination.js';
import { deletedRows, keptRows, verdictsOf } from '../retention/plan.js';
import { describePolicy, type RetentionPolicy } from '../retention/policy.js';
import type { DestinationPrune } from '../retention/prune-destination.js';
import { staleTemporaries } from '../storage/catalog.js';
import { STALE_SECONDS } from '../storage/claim.js';

/** What runList returns; the job summary and the `backups` JSON output are made from it. */
export interface ListResult {
  database: string;
  policy?: RetentionPolicy | undefined;
  now: Date;
  destinations: DestinationListing[];
  warnings: string[];
}

/** What runPrune returns; outputs and the job summary are made from it. */
export interface PruneResult {
  database: string;
  policy: RetentionPolicy;
  dryRun: boolean;
  destinations: DestinationPrune[];
  /** Backups deleted (archive + manifest + globals), summed over destinations; 0 in a dry run. */
  prunedCount: number;
  /** Backups the plan would delete, summed (equals prunedCount unless a dry run or failures). */
  plannedDeleteCount: number;
  /** Backups left after the prune (complete, incomplete and protected), summed over destinations. */
  keptCount: number;
  /** Every warning (clock skew, protections, failures, unreachable destinations). */
  warnings: string[];
}

/**
 * The {@link ListResult} of the destinations listed, in order: each listing's error and its plan's
 * warnings (prefixed with its URL) collected.
 */
export function listResult(
  run: { database: string; policy?: RetentionPolicy | undefined; now: Date },
  destinations: DestinationListing[],
): ListResult {
  const { policy } = run;
  const result: ListResult = {
    database: run.database,
    ...(policy ? { policy } : {}),
    now: run.now,
    destinations: [],
    warnings: [],
  };
  for (const listing of destinations) {
    result.destinations.push(listing);
    if (listing.error) result.warnings.push(listing.error);
    if (listing.plan) result.warnings.push(...listing.plan.warnings.map((w) => `${listing.url}: ${w}`));
  }
  return result;
}

/**
 * The {@link PruneResult} of the destinations pruned, in order: errors and execution warnings
 * collected, deleted, planned and kept backups summed.
 */
export function pruneResult(
  run: { database: string; policy: RetentionPolicy; dryRun: boolean },
  destinations: DestinationPrune[],
): PruneResult {
  const result: PruneResult = {
    database: run.database,
    policy: run.policy,
    dryRun: run.dryRun,
    destinations: [],
    prunedCount: 0,
    plannedDeleteCount: 0,
    keptCount: 0,
    warnings: [],
  };
  for (const outcome of destinations) {
    result.destinations.push(outcome);
    if (outcome.error) result.warnings.push(outcome.error);
    if (outcome.execution) {
      result.warnings.push(...outcome.execution.warnings);
      result.prunedCount += outcome.execution.deleted.length;
      result.plannedDeleteCount += outcome.execution.plan.deleted.length;
      result.keptCount += outcome.execution.kept.length;
    }
  }
  return result;
}

/** Rows in each job-summary table (GitHub caps a summary at 1 MiB). */
const SUMMARY_ROWS = 200;

/** Step outputs of `command: prune` (and of a backup that pruned): `pruned-count`, `kept-count`. */
export function pruneOutputs(result: PruneResult): Record<string, string> {
  return { 'pruned-count': String(result.prunedCount), 'kept-count': String(result.keptCount) };
}

/** Markdown for the job summary of a prune: per destination, what was kept and why, what was deleted. */
export function pruneSummary(result: PruneResult): string {
  const head = `## Retention: ${result.database}${result.dryRun ? ' (dry run: nothing deleted)' : ''}\n\nPolicy: ${describePolicy(result.policy) || '(none)'}. ${
    result.dryRun ? `Would delete ${result.plannedDeleteCount}` : `Deleted ${result.prunedCount}`
  } backup(s), kept ${result.keptCount}.\n`;
  const parts = [head];
  for (const d of result.destinations) {
    parts.push(`### ${cell(d.url)}\n`);
    if (!d.execution) {
      parts.push(`${cell(d.error ?? 'not pruned')}\n`);
      continue;
    }
    const e = d.execution;
    const gone = e.dryRun ? e.plan.deleted : e.deleted;
    parts.push(
      `${e.kept.length} kept, ${gone.length} ${e.dryRun ? 'would be deleted' : 'deleted'}${e.failed.length ? `, ${e.failed.length} object(s) could not be deleted` : ''}.\n`,
    );
    parts.push(table(['Kept backup', 'Time (UTC)', 'Why'], keptRows(e.kept)));
    if (gone.length > 0) {
      parts.push(
        `<details><summary>${e.dryRun ? 'Would delete' : 'Deleted'} (${gone.length})</summary>\n\n${table(['Backup', 'Time (UTC)', 'Why'], deletedRows(gone))}</details>\n`,
      );
    }
    if (e.failed.length > 0)
      parts.push(
        table(
          ['Not deleted', 'Error'],
          e.failed.map((f) => [f.key, f.message]),
        ),
      );
  }
  if (result.warnings.length > 0)
    parts.push(`### Warnings\n\n${result.warnings.map((w) => `- ${cell(w)}`).join('\n')}\n`);
  return parts.join('\n');
}

/** Markdown for the job summary of a listing: key, time, label, size, and the policy's preview when set. */
export function listSummary(result: ListResult): string {
  const parts = [
    `## Backups of ${result.database}\n\n${result.policy ? `Retention preview for policy ${describePolicy(result.policy)} (nothing is deleted by list).` : 'No retention policy set.'}\n`,
  ];
  for (const d of result.destinations) {
    parts.push(`### ${cell(d.url)}\n`);
    if (!d.catalog) {
      parts.push(`${cell(d.error ?? 'not listed')}\n`);
      continue;
    }
    const backups = [...d.catalog.backups].reverse();
    const total = backups.reduce((n, b) => n + b.size, 0);
    const verdicts = d.plan ? verdictsOf(d.plan) : undefined;
    parts.push(
      `${backups.length} backup(s), ${formatBytes(total)}${d.plan ? `; the policy keeps ${d.plan.kept.length} and would delete ${d.plan.deleted.length}` : ''}. Newest first.\n`,
    );
    const columns = [
      'Backup',
      'Time (UTC)',
      'Label',
      'Size',
      'Manifest',
      ...(d.files ? ['Files'] : []),
      ...(verdicts ? ['Retention'] : []),
    ];
    const rows = backups.map((b) => {
      const v = verdicts?.get(b.key);
      const files = d.files?.get(b.key);
      return [
        b.key,
        b.time.toISOString(),
        b.label ?? '',
        formatBytes(b.size),
        b.hasManifest ? 'yes' : 'no',
        ...(d.files ? [files ? describeFilesPart(files, formatBytes).replace(/^files: /, '') : ''] : []),
        ...(v ? [`${v.action}: ${v.reasons.join(', ')}`] : []),
      ];
    });
    parts.push(table(columns, rows));
    if (d.catalog.temporary.length > 0) {
      const stale = new Set(staleTemporaries(d.catalog, result.now).map((t) => t.key));
      parts.push(
        `Temporary objects of runs of this action (killed while writing, or still running); the next backup or prune removes those older than ${STALE_SECONDS / 3600} h:\n`,
      );
      parts.push(
        table(
          ['Temporary object', 'Kind', 'Size', 'Last written (UTC)', 'Removed by the next run'],
          d.catalog.temporary.map((t) => [
            t.key,
            t.kind,
            formatBytes(t.size),
            t.lastModified?.toISOString() ?? '',
            stale.has(t.key) ? 'yes' : 'no',
          ]),
        ),
      );
    }
  }
  if (result.warnings.length > 0)
    parts.push(`### Warnings\n\n${result.warnings.map((w) => `- ${cell(w)}`).join('\n')}\n`);
  return parts.join('\n');
}

/** One backup in the `backups` JSON output. */
export interface ListedBackup {
  destination: string;
  key: string;
  manifestKey: string;
  /** ISO 8601 UTC, from the key. */
  time: string;
  label: string | null;
  sizeBytes: number;
  /** False for an archive without manifest (an interrupted run). */
  complete: boolean;
  /** Present when a policy is set: what it would do. */
  retention?: { action: 'keep' | 'delete'; reasons: string[] };
  /** The files part (docs/files.md), when the backup has one: counts from the manifest, stored bytes from the listing. */
  files?: { fileCount: number | null; totalBytes: number | null; storedBytes: number; missing: boolean };
}

/** Step outputs of `command: list` (names as in action.yml): `backups` ({@link listJson}) and `temporary-files` ({@link temporaryJson}). */
export function listOutputs(result: ListResult): Record<string, string> {
  return { backups: listJson(result), 'temporary-files': temporaryJson(result) };
}

/** One temporary object in the `temporary-files` JSON output. */
export interface ListedTemporary {
  destination: string;
  /** Object key (for a folder's `.partial` file: its path relative to the folder). */
  key: string;
  /** `claim` (claim object of a run, storage/claim.ts) or `partial` (a folder's unfinished write). */
  kind: 'claim' | 'partial';
  sizeBytes: number;
  /** ISO 8601 UTC of the last write, or null when unknown. */
  lastModified: string | null;
  /** True when older than 24 h: the next backup or prune removes it. */
  stale: boolean;
}

/** The `temporary-files` output: a JSON array of {@link ListedTemporary}, per destination by key. */
export function temporaryJson(result: ListResult): string {
  const out: ListedTemporary[] = [];
  for (const d of result.destinations) {
    if (!d.catalog) continue;
    const stale = new Set(staleTemporaries(d.catalog, result.now).map((t) => t.key));
    for (const t of d.catalog.temporary) {
      out.push({
        destination: d.url,
        key: t.key,
        kind: t.kind,
        sizeBytes: t.size,
        lastModified: t.lastModified?.toISOString() ?? null,
        stale: stale.has(t.key),
      });
    }
  }
  return JSON.stringify(out);
}

/** The `backups` output: a JSON array of {@link ListedBackup}, per destination oldest first. */
export function listJson(result: ListResult): string {
  const out: ListedBackup[] = [];
  for (const d of result.destinations) {
    if (!d.catalog) continue;
    const verdicts = d.plan ? verdictsOf(d.plan) : undefined;
    for (const b of d.catalog.backups) {
      const v = verdicts?.get(b.key);
      out.push({
        destination: d.url,
        key: b.key,
        manifestKey: b.manifestKey,
        time: b.time.toISOString(),
        label: b.label ?? null,
        sizeBytes: b.size,
        complete: b.hasManifest,
        ...(v ? { retention: v } : {}),
        ...filesJson(d.files?.get(b.key)),
      });
    }
  }
  return JSON.stringify(out);
}

/** A backup's files part in the `backups` output. */
function filesJson(part: FilesPart | undefined): Pick<ListedBackup, 'files'> {
  if (!part) return {};
  const { fileCount, totalBytes, storedBytes, missing } = part;
  return { files: { fileCount: fileCount ?? null, totalBytes: totalBytes ?? null, storedBytes, missing } };
}

function table(columns: string[], rows: string[][]): string {
  const shown = rows.slice(0, SUMMARY_ROWS);
  const lines = [
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...shown.map((r) => `| ${r.map((c, i) => (i === 0 ? `\`${c}\`` : cell(c))).join(' | ')} |`),
  ];
  if (rows.length > shown.length) lines.push(`\n… and ${rows.length - shown.length} more (see the step log).`);
  return `${lines.join('\n')}\n`;
}

/** Text safe inside a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
