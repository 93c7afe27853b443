/** Step outputs and job summary of `command: check`, the result they are made from, and its error. */
import { ActionError } from '../errors.js';
import type { CheckDestinationResult } from '../retention/freshness.js';
import { anomalyTable } from '../retention/anomaly.js';

/** What a check found: every destination's verdict. */
export interface CheckResult {
  database: string;
  /** PostgreSQL major of the server the newest backup (first destination) was taken from, from its manifest. */
  latestServerMajor?: number;
  /** ISO 8601 time the check ran. */
  checkedAt: string;
  destinations: CheckDestinationResult[];
  passed: boolean;
}

/** A freshness or size check failed; `result` holds every destination's checks. */
export class CheckError extends ActionError {
  constructor(
    message: string,
    readonly result: CheckResult,
  ) {
    super(message, 'check');
  }
}

/** Step outputs of `command: check`: the first destination's newest complete backup. */
export function checkOutputs(result: CheckResult): Record<string, string> {
  const latest = result.destinations[0]?.latest;
  return {
    'latest-key': latest?.key ?? '',
    'latest-age-seconds': latest ? String(latest.ageSeconds) : '',
    'latest-server-major': result.latestServerMajor === undefined ? '' : String(result.latestServerMajor),
  };
}

/** Markdown for the job summary of a check. */
export function checkSummary(result: CheckResult): string {
  const lines = [
    `## PostgreSQL backup check: ${result.database}`,
    '',
    `${result.passed ? '✅ passed' : '❌ failed'} at ${result.checkedAt}`,
    '',
  ];
  for (const d of result.destinations) {
    lines.push(`### ${d.url}`, '', '| Check | Expected | Actual | Result |', '|---|---|---|---|');
    for (const c of d.checks)
      lines.push(
        `| ${c.name} | ${String(c.expected).replace(/\|/g, '\\|')} | ${String(c.actual).replace(/\|/g, '\\|')} | ${c.passed ? '✅' : '❌'} |`,
      );
    if (d.warnings.length > 0) lines.push('', ...d.warnings.map((w) => `- ⚠️ ${w}`));
    lines.push(...scheduleLines(d), ...anomalyLines(d));
    lines.push('');
  }
  return `${lines.join('\n')}`;
}

/** The missed-schedule part of a destination's summary: the verdict, gaps and recent times. */
function scheduleLines(d: CheckDestinationResult): string[] {
  const s = d.schedule;
  if (!s) return [];
  const lines = ['', `**Schedule:** ${s.missed > 0 ? '⚠️ ' : ''}${s.summary}.`];
  for (const g of s.gaps) lines.push(`- gap: ${g.from} → ${g.open ? 'now' : g.to}`);
  if (s.recent.length > 0) lines.push('', `Recent backups: ${s.recent.join(', ')}`);
  return lines;
}

/** The per-table anomalies of the newest backup against the one before: a table (table, before, now, change). */
function anomalyLines(d: CheckDestinationResult): string[] {
  const a = d.anomalies;
  if (!a || (a.found.length === 0 && a.notes.length === 0)) return [];
  const lines = ['', `**Anomalies** against \`${a.previousKey}\`:`];
  if (a.found.length > 0) lines.push('', ...anomalyTable(a.found));
  if (a.notes.length > 0) lines.push('', ...a.notes.map((n) => `- ${n}`));
  return lines;
}
