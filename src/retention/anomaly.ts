/**
 * Per-table anomalies of a backup (pure): what a new manifest shows against the previous complete
 * backup of the same database and label. A table that disappeared, a table whose row count fell by
 * more than a fraction, an archive much smaller than usual (the `min-size-ratio` rule of
 * {@link isBelowSizeRatio}, shared with `check`). When the dump options that choose what is dumped
 * differ between the two, tables are not compared: a changed filter explains a missing table.
 */
import type { Manifest } from '../manifest.js';
import { formatBytes } from '../format.js';
import { isBelowSizeRatio } from './size-ratio.js';

/** What to do about anomalies: `warn` (job passes, warning and summary) or `fail` (the step fails). */
export const ANOMALY_MODES = ['warn', 'fail'] as const;

/** The `anomaly` and `max-row-drop` inputs, as parsed. */
export interface AnomalyPolicy {
  mode: (typeof ANOMALY_MODES)[number];
  /** Fraction in (0, 1]. */
  maxRowDrop: number;
}

/** One finding; `table` is `schema.table`, or `(archive)` for the size. */
export interface Anomaly {
  kind: 'table-missing' | 'rows-dropped' | 'archive-small';
  table: string;
  /** Rows (bytes for `archive-small`) in the previous backup (or the median baseline). */
  before: number;
  /** Rows (bytes) now; 0 for a missing table. */
  now: number;
  /** e.g. `-60.0%`, `table gone`. */
  change: string;
}

/** What {@link findAnomalies} found, and why some comparisons were skipped. */
export interface AnomalyFindings {
  anomalies: Anomaly[];
  /** e.g. the dump options differ, so tables are not compared. */
  notes: string[];
}

/** Settings of {@link findAnomalies}. */
export interface AnomalySettings {
  /** A table is anomalous when its rows fell by more than this fraction, in (0, 1]. */
  maxRowDrop: number;
  /** With it: the archive is anomalous when smaller than this fraction of the baseline. */
  minSizeRatio?: number;
  /** Size baseline in bytes (e.g. the median of earlier backups); default: the previous archive's. */
  medianBytes?: number;
}

/** The options that decide which tables and rows a dump holds. */
const FILTER_OPTIONS = [
  'schemas',
  'excludeSchemas',
  'tables',
  'excludeTables',
  'excludeTableData',
  'schemaOnly',
  'dataOnly',
  'extraArgs',
] as const;

/** A manifest's dump options; a hand-made or damaged manifest may lack them (read as none set). */
function optionsOf(manifest: Manifest): Partial<Manifest['options']> {
  return (manifest as Partial<Manifest>).options ?? {};
}

/** Names of the filter options that differ between two manifests (empty when the same). */
export function changedFilters(previous: Manifest, current: Manifest): string[] {
  const [before, now] = [optionsOf(previous), optionsOf(current)];
  return FILTER_OPTIONS.filter((name) => JSON.stringify(before[name] ?? null) !== JSON.stringify(now[name] ?? null));
}

/** `-60.0%` for 100 → 40. */
function percentChange(before: number, now: number): string {
  if (before === 0) return now === 0 ? '0%' : '+∞';
  const pct = ((now - before) / before) * 100;
  return `${pct > 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

/**
 * Compares `current` with `previous` (the previous complete backup of the same database and label).
 * Tables with a negative count (an estimate of a never-analyzed table) are not compared.
 * @returns anomalies in table order (missing and dropped tables, then the archive size), and notes.
 */
export function findAnomalies(previous: Manifest, current: Manifest, settings: AnomalySettings): AnomalyFindings {
  const anomalies: Anomaly[] = [];
  const notes: string[] = [];
  const changed = changedFilters(previous, current);
  if (changed.length > 0) {
    notes.push(`The dump options differ from the previous backup's (${changed.join(', ')}): tables are not compared.`);
  } else {
    const now = new Map(current.rowCounts.tables.map((t) => [`${t.schema}.${t.table}`, t.rows]));
    for (const t of previous.rowCounts.tables) {
      const name = `${t.schema}.${t.table}`;
      const rows = now.get(name);
      if (rows === undefined) {
        anomalies.push({ kind: 'table-missing', table: name, before: t.rows, now: 0, change: 'table gone' });
      } else if (t.rows > 0 && rows >= 0 && (t.rows - rows) / t.rows > settings.maxRowDrop) {
        anomalies.push({
          kind: 'rows-dropped',
          table: name,
          before: t.rows,
          now: rows,
          change: percentChange(t.rows, rows),
        });
      }
    }
    if (previous.rowCounts.mode === 'estimate' || current.rowCounts.mode === 'estimate')
      notes.push('Row counts are estimates (row-counts: estimate): small changes are noise.');
  }
  if (settings.minSizeRatio !== undefined) {
    const baseline = settings.medianBytes ?? previous.archive.bytes;
    const bytes = current.archive.bytes;
    if (isBelowSizeRatio(bytes, baseline, settings.minSizeRatio)) {
      anomalies.push({
        kind: 'archive-small',
        table: '(archive)',
        before: baseline,
        now: bytes,
        change: `${percentChange(baseline, bytes)} (${formatBytes(baseline)} → ${formatBytes(bytes)})`,
      });
    }
  }
  return { anomalies, notes };
}

/** One line per anomaly for logs and errors, e.g. `public.orders 1000 → 400 (-60.0%)`. */
export function describeAnomalies(anomalies: Anomaly[]): string {
  return anomalies.map((a) => `${a.table} ${a.before} → ${a.now} (${a.change})`).join('; ');
}

/** Markdown table (table, before, now, change) for a job summary; empty without anomalies. */
export function anomalyTable(anomalies: Anomaly[]): string[] {
  if (anomalies.length === 0) return [];
  return [
    '| Table | Before | Now | Change |',
    '|---|---:|---:|---|',
    ...anomalies.map((a) => `| ${a.table} | ${a.before} | ${a.now} | ${a.change} |`),
  ];
}
