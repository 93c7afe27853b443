/**
 * Markdown of the failure issue: its title, the body of a new issue (facts table, error, checklist
 * by failed phase), the comment of a repeat failure and the recovery comment. Pure.
 */
import { redact } from '../redact.js';
import { buildFailureMarker, buildMarker, buildRecoveredMarker, type IssueIdentity } from './issue-marker.js';
import { commandTitle } from './webhook.js';

/** A failed run, as the reporter needs it. `error` is already masked by the caller. */
export interface FailureContext {
  /** The action's command: `backup`, `restore-drill`, `prune`, … */
  command: string;
  database: string;
  error: string;
  /** config, connect, client, dump, upload, verify, manifest, or a later command's own phase. */
  phase: string;
  /** Newest backup with a manifest before this run, when the caller knows it. */
  lastSuccess?: { key: string; time: Date } | undefined;
  /** A paragraph shown after the error (a schedule about to be disabled), already masked. */
  note?: string | undefined;
  /** When the failure is reported. */
  time: Date;
}

/** A successful run. */
export interface SuccessContext {
  command: string;
  database: string;
  /** Key of the backup just made, when the command makes one. */
  backupKey?: string;
  time: Date;
}

/** `Backup failed: <database> (<workflow>)`, `Restore drill failed: …`, `Prune failed: …`. */
export function issueTitle(command: string, database: string, workflow: string): string {
  return `${commandTitle(command)} failed: ${database || '(unknown database)'} (${workflow})`;
}

/** What to check first, by failed phase (markdown task-list lines, without the `- [ ] `). */
export function checklistFor(phase: string): string[] {
  const common = "Read the failed step's log in the run linked above; the error there is the first thing to fix.";
  const byPhase: Record<string, string[]> = {
    config: [
      "The input named in the error: its value in the workflow file (see the action's README for allowed values).",
      'Secrets used by the inputs exist in this repository or environment (runs from forks and Dependabot get no secrets).',
    ],
    connect: [
      'The database host is reachable from the runner: firewall / IP allow-list (GitHub-hosted runners have changing IPs), VPN or self-hosted runner.',
      'IPv6-only hosts (e.g. Supabase `db.<ref>.supabase.co`) are unreachable from hosted runners: use the IPv4 session pooler on port 5432; the transaction pooler (6543) breaks pg_dump.',
      'Credentials and `sslmode`: was the password rotated, does the server require TLS?',
      'The server is up and accepts connections (maintenance, max_connections).',
    ],
    client: [
      "A pg_dump of the server's major version could be installed: `install-client`, `client-version`, and the runner image (PGDG apt, Homebrew, Windows PGBIN).",
      'The server was upgraded to a new major version recently (the client must match or be newer).',
    ],
    dump: [
      'The role can read every dumped table, sequence and schema (e.g. grant `pg_read_all_data`), or exclude what it cannot read.',
      'Locks and timeouts: long DDL or `lock_timeout`/`statement_timeout` on the role; a server restart during the dump.',
      'pg_dump / server version mismatch in the log (`aborting because of server version mismatch`).',
      'Extra `pg-dump-args` and the disk space of RUNNER_TEMP (directory format).',
    ],
    upload: [
      'Storage credentials and permissions (s3:PutObject, s3:AbortMultipartUpload, s3:ListBucket) and that they have not expired.',
      'Endpoint, region and path-style addressing for S3-compatible stores; R2/B2 reject checksum headers (`s3-checksums`).',
      'Bucket quota, object lock or lifecycle rules; for file:// destinations, free disk space and permissions.',
    ],
    verify: [
      "The stored archive differs from what was streamed: the store's consistency, a proxy rewriting bodies, or another process writing the same key.",
      'Re-run the job; if it fails again, test the storage with a small upload.',
    ],
    manifest: [
      'Write permission for `*.manifest.json` next to the archive (a prefix-restricted policy).',
      'The archive without a manifest is not a good backup: re-run the job.',
    ],
  };
  return [
    common,
    ...(byPhase[phase] ?? ['The step log around the error, and the inputs and secrets of this command.']),
  ];
}

/** Human age: `45 seconds`, `12 minutes`, `5 hours 3 minutes`, `2 days 4 hours`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (s < 60) return plural(s, 'second');
  const m = Math.floor(s / 60);
  if (m < 60) return plural(m, 'minute');
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? plural(h, 'hour') : `${plural(h, 'hour')} ${plural(m % 60, 'minute')}`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? plural(d, 'day') : `${plural(d, 'day')} ${plural(h % 24, 'hour')}`;
}

function ordinal(n: number): string {
  const rem100 = n % 100;
  const suffix =
    rem100 >= 11 && rem100 <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** Inline code that survives backticks and table pipes. */
function code(value: string): string {
  const text = value.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return longest > 0 ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

/** A fenced block that the text cannot close; long text keeps its head and tail. */
function codeBlock(text: string, max = 20_000): string {
  let body = text;
  if (body.length > max) {
    const half = Math.floor(max / 2);
    body = `${body.slice(0, half)}\n… (${body.length - 2 * half} characters cut) …\n${body.slice(-half)}`;
  }
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}text\n${body}\n${fence}`;
}

function utc(time: Date): string {
  return `${time
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')} UTC`;
}

/** Everything the renderers need besides the failure itself. */
export interface RenderRun {
  identity: IssueIdentity;
  /** The run's page (`runUrl` of issue-client.ts); undefined outside a runner. */
  runUrl?: string | undefined;
  runId: string;
  runAttempt: number;
  /** Consecutive failed runs including this one. */
  consecutive: number;
  threshold: number;
  /** True when earlier runs could not be read (the issue was opened without waiting for the threshold). */
  countUnknown?: boolean;
  /** Scrubbed from the error text (the caller masks already; this is defence in depth). */
  secrets: readonly string[];
}

function lastSuccessText(ctx: FailureContext): string {
  if (!ctx.lastSuccess) return 'unknown';
  const age = formatAge(ctx.time.getTime() - ctx.lastSuccess.time.getTime());
  return `${code(ctx.lastSuccess.key)}, ${age} before this failure (${utc(ctx.lastSuccess.time)})`;
}

function runText(run: RenderRun): string {
  if (!run.runUrl) return 'unknown (not run by GitHub Actions)';
  return `[run ${run.runId}${run.runAttempt > 1 ? `, attempt ${run.runAttempt}` : ''}](${run.runUrl})`;
}

/** The new issue's body: marker, facts table, the error, a checklist by phase, the failure record. */
export function renderIssueBody(ctx: FailureContext, run: RenderRun): string {
  const rows: [string, string][] = [
    ['Command', code(ctx.command)],
    ['Database', code(ctx.database || '(unknown)')],
    ['Failed phase', `**${ctx.phase}**`],
    ['When', utc(ctx.time)],
    ['Run', runText(run)],
    ['Workflow / job', `${code(run.identity.workflow)} / ${code(run.identity.job)}`],
    ['Last successful backup', lastSuccessText(ctx)],
    [
      'Consecutive failed runs',
      run.countUnknown
        ? `unknown: earlier runs could not be read (failure-threshold ${run.threshold})`
        : run.threshold > 1
          ? `${run.consecutive} (failure-threshold ${run.threshold})`
          : String(run.consecutive),
    ],
  ];
  return [
    buildMarker(run.identity),
    `## ${commandTitle(ctx.command)} failed for database ${code(ctx.database || '(unknown)')}`,
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '### Error',
    '',
    codeBlock(redact(ctx.error, run.secrets)),
    '',
    ...noteLines(ctx, run),
    `### What to check (phase: ${ctx.phase})`,
    '',
    ...checklistFor(ctx.phase).map((line) => `- [ ] ${line}`),
    '',
    '---',
    '<sub>Opened by postgres-backup-action. Each further failure of this job adds a comment; the next successful run comments "Recovered" and closes this issue (`close-issue-on-success`). Keep the hidden marker at the top of this description: it is how the action finds this issue again.</sub>',
    '',
    buildFailureMarker({
      runId: run.runId,
      attempt: run.runAttempt,
      command: ctx.command,
      consecutive: run.consecutive,
    }),
    '',
  ].join('\n');
}

/** A repeat failure's comment: failure record, count, phase, run, last good backup, the error. */
export function renderFailureComment(ctx: FailureContext, run: RenderRun): string {
  return [
    buildFailureMarker({
      runId: run.runId,
      attempt: run.runAttempt,
      command: ctx.command,
      consecutive: run.consecutive,
    }),
    `**Failed again** (${ordinal(run.consecutive)} consecutive failed run): ${code(ctx.command)} in phase **${ctx.phase}**, ${utc(ctx.time)}.`,
    '',
    `- Run: ${runText(run)}`,
    `- Last successful backup: ${lastSuccessText(ctx)}`,
    '',
    codeBlock(redact(ctx.error, run.secrets)),
    '',
    ...noteLines(ctx, run),
  ].join('\n');
}

/** The note's paragraph and a blank line, or nothing. */
function noteLines(ctx: FailureContext, run: Pick<RenderRun, 'secrets'>): string[] {
  return ctx.note ? [`> ${redact(ctx.note, run.secrets).replace(/\r?\n/g, ' ')}`, ''] : [];
}

/** The recovery comment posted before closing. */
export function renderRecoveryComment(
  ctx: SuccessContext,
  run: Pick<RenderRun, 'runUrl' | 'runId' | 'runAttempt'>,
): string {
  const runPart = run.runUrl ? ` in [run ${run.runId}](${run.runUrl})` : '';
  return [
    buildRecoveredMarker(run.runId, run.runAttempt),
    `**Recovered**: ${code(ctx.command)} of ${code(ctx.database)} succeeded${runPart} at ${utc(ctx.time)}.`,
    ...(ctx.backupKey ? ['', `New backup: ${code(ctx.backupKey)}`] : []),
    '',
    'Closing this issue; a new failure opens a new one.',
    '',
  ].join('\n');
}
