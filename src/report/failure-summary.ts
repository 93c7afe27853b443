/**
 * The job summary of a failed run (any command): what failed, in which phase, the error, what to
 * check (the same checklist as the failure issue), and the newest good backup when one is known.
 */
import { checklistFor, formatAge } from './issue-render.js';
import { redact } from '../redact.js';
import { commandTitle } from './webhook.js';

/** A failed run as main knows it. */
export interface FailedRun {
  /** `backup`, `check`, … (the `command` input as given when the config could not be read). */
  command: string;
  /** '' when unknown (the config could not be read far enough). */
  database: string;
  /** ActionError.phase, or 'unknown'. */
  phase: string;
  /** The error message (already masked in the log; redacted again here). */
  error: string;
  /** Newest backup with a manifest, from a destination's listing, when one could be read. */
  lastSuccess?: { key: string; time: Date; url?: string };
  time: Date;
}

/**
 * Markdown for GITHUB_STEP_SUMMARY: a facts table (command, database, phase, newest good backup),
 * the error in a code block, and the phase's checklist as hints. Every string in `secrets` (of 4
 * characters or more) is replaced by `***` in the whole text: the runner masks the log, but this
 * file is rendered on the run's page as written.
 */
export function failureSummary(run: FailedRun, secrets: readonly string[]): string {
  const newest = run.lastSuccess
    ? `\`${run.lastSuccess.key}\`${run.lastSuccess.url ? ` in ${run.lastSuccess.url}` : ''}, ${formatAge(run.time.getTime() - run.lastSuccess.time.getTime())} before this failure`
    : 'unknown';
  const cell = (text: string): string => text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const fence = '`'.repeat(Math.max(3, ...[...run.error.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  const lines = [
    `## ❌ ${commandTitle(run.command)} failed${run.database ? `: ${run.database}` : ''}`,
    '',
    '| | |',
    '|---|---|',
    `| Command | \`${cell(run.command)}\` |`,
    `| Database | ${run.database ? `\`${cell(run.database)}\`` : '(unknown)'} |`,
    `| Failed phase | **${cell(run.phase)}** |`,
    `| Newest good backup | ${cell(newest)} |`,
    '',
    '### Error',
    '',
    `${fence}text`,
    run.error,
    fence,
    '',
    `### What to check (phase: ${run.phase})`,
    '',
    // The checklist's first line points to "the run linked above", which is this page itself.
    ...checklistFor(run.phase)
      .slice(1)
      .map((line) => `- ${line}`),
    '',
  ];
  return redact(lines.join('\n'), secrets);
}
