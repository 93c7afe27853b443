/** Step outputs and job summary of `command: drill`, the result they are made from, and its error. */
import { ActionError } from '../errors.js';
import { formatBytes } from '../format.js';
import type { Check, Manifest } from '../manifest.js';
import type { CategoryResult } from '../restore/verify.js';

/** A drill's outcome (outputs and summary are made from it). */
export interface DrillResult {
  key: string;
  url: string;
  manifest: Manifest;
  target: { host: string; port: number; database: string };
  checks: Check[];
  /** The checks by category (restore/verify.ts); `checks` is their concatenation. */
  categories?: CategoryResult[];
  /** What was not checked, and why. */
  skipped: string[];
  passed: boolean;
  /** RTO: wall seconds from the start of the download to the verified database. */
  restoreSeconds: number;
  /** Of which: verifying the restored database. */
  verifySeconds: number;
  /** Stored archive bytes. */
  archiveBytes: number;
  /** Archive bytes per second over download and restore. */
  throughput: number;
  mode: string;
  pgRestoreVersion: string;
  /** The scratch database was dropped afterwards. */
  dropped: boolean;
}

/** A drill ran and some check failed; `result` holds every check (for the summary). */
export class DrillError extends ActionError {
  constructor(
    message: string,
    readonly result: DrillResult,
  ) {
    super(message, 'drill');
  }
}

/**
 * The error of a drill whose checks did not all pass (naming up to five failed checks), or
 * undefined when every check passed.
 */
export function drillFailure(result: DrillResult): DrillError | undefined {
  const failed = result.checks.filter((c) => !c.passed);
  if (failed.length === 0) return undefined;
  return new DrillError(
    `The restore drill of ${result.key} failed ${failed.length} of ${result.checks.length} checks: ` +
      failed
        .slice(0, 5)
        .map((c) => `${c.name} (expected ${c.expected}, actual ${c.actual})`)
        .join('; ') +
      (failed.length > 5 ? `; and ${failed.length - 5} more` : '') +
      '. The backup does not restore to what was dumped.',
    result,
  );
}

/** Step outputs of `command: drill` (names as in action.yml). */
export function drillOutputs(result: DrillResult): Record<string, string> {
  return {
    'restored-key': result.key,
    'restore-seconds': String(result.restoreSeconds),
    'drill-passed': String(result.passed),
  };
}

/** Rows of the checks table shown in the summary at most (failed checks always shown). */
const SUMMARY_MAX_ROWS = 200;

function cell(value: string | number): string {
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * One line saying what the drill proved: the `proven` text of each category whose checks all
 * passed, e.g. `Proven: 23 tables content-identical (1,234,567 rows), 12 sequences, 3 large
 * objects, …`; with failures, `Failed: tables (2), sequences (1). Proven: …`.
 */
export function provenLine(categories: CategoryResult[]): string {
  const ran = categories.filter((c) => c.checks.length > 0);
  const failed = ran.filter((c) => c.checks.some((check) => !check.passed));
  const proven = ran.filter((c) => !failed.includes(c) && c.proven !== undefined).map((c) => c.proven as string);
  const parts: string[] = [];
  if (failed.length > 0)
    parts.push(`Failed: ${failed.map((c) => `${c.name} (${c.checks.filter((x) => !x.passed).length})`).join(', ')}.`);
  parts.push(proven.length > 0 ? `Proven: ${proven.join(', ')}.` : 'Nothing proven.');
  return parts.join(' ');
}

/** Markdown for the job summary: verdict, RTO, size, throughput, and a table of the checks. */
export function drillSummary(result: DrillResult): string {
  const m = result.manifest;
  const failed = result.checks.filter((c) => !c.passed);
  const passed = result.checks.filter((c) => c.passed);
  const shown = [...failed, ...passed.slice(0, Math.max(0, SUMMARY_MAX_ROWS - failed.length))];
  const facts: [string, string][] = [
    [
      'Verdict',
      result.passed
        ? `✅ passed (${result.checks.length} checks)`
        : `❌ failed (${failed.length} of ${result.checks.length} checks)`,
    ],
    ['Backup', `\`${result.key}\` (${result.url}), taken ${m.startedAt}`],
    [
      'Scratch database',
      `\`${result.target.database}\` on ${result.target.host}:${result.target.port}${result.dropped ? ' (dropped)' : ''}`,
    ],
    ['RTO', `${result.restoreSeconds} s (download to verified; verification ${result.verifySeconds} s)`],
    ['Archive size', `${formatBytes(result.archiveBytes)} (${result.archiveBytes} bytes), SHA-256 verified`],
    ['Throughput', `${formatBytes(result.throughput)}/s`],
    ['Format', `${m.format} via ${result.mode}; pg_restore ${result.pgRestoreVersion}`],
  ];
  const lines = [
    `## PostgreSQL restore drill: ${m.database}`,
    '',
    ...(result.categories ? [provenLine(result.categories), ''] : []),
    '| | |',
    '|---|---|',
    ...facts.map(([k, v]) => `| ${k} | ${cell(v)} |`),
    '',
    '| Check | Expected | Actual | Result |',
    '|---|---|---|---|',
    ...shown.map(
      (c) =>
        `| ${cell(c.name)}${c.note ? ` (${cell(c.note)})` : ''} | ${cell(c.expected)} | ${cell(c.actual)} | ${c.passed ? '✅' : '❌'} |`,
    ),
  ];
  if (shown.length < result.checks.length)
    lines.push('', `… and ${result.checks.length - shown.length} more passed checks (see the log).`);
  if (result.skipped.length > 0) lines.push('', '**Not checked**', '', ...result.skipped.map((s) => `- ${s}`));
  return `${lines.join('\n')}\n`;
}
