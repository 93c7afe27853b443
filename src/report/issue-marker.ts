/**
 * The marker protocol of the failure issue: hidden HTML comments that identify our issue (workflow,
 * job, database) and record each failure and the recovery, so that later runs find the issue again
 * and count consecutive failures. Values are percent-encoded; parsing never throws.
 */

/** Prefix of every hidden marker this action writes into issues and comments. */
export const MARKER_PREFIX = 'postgres-backup-action:v1';

/** What one failure issue is about: two databases or two workflows never share an issue. */
export interface IssueIdentity {
  /** `GITHUB_WORKFLOW` (the workflow's name). */
  workflow: string;
  /** `GITHUB_JOB` (the job's id in the workflow file). */
  job: string;
  database: string;
}

const enc = (value: string): string => encodeURIComponent(value);

function markerFields(text: string, kind: string | undefined): Map<string, string> | undefined {
  const pattern = new RegExp(`<!--\\s*${MARKER_PREFIX.replace(/[.:]/g, '\\$&')}\\s+([^>]*?)\\s*-->`, 'g');
  for (const match of text.matchAll(pattern)) {
    const parts = (match[1] ?? '').split(/\s+/).filter((p) => p !== '');
    const first = parts[0] ?? '';
    const isKind = kind === undefined ? first.includes('=') : first === kind;
    if (!isKind) continue;
    const fields = new Map<string, string>();
    for (const part of kind === undefined ? parts : parts.slice(1)) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      try {
        fields.set(part.slice(0, eq), decodeURIComponent(part.slice(eq + 1)));
      } catch {
        fields.set(part.slice(0, eq), part.slice(eq + 1));
      }
    }
    return fields;
  }
  return undefined;
}

/**
 * The identity marker at the top of an issue body:
 * `<!-- postgres-backup-action:v1 workflow=<GITHUB_WORKFLOW> job=<GITHUB_JOB> database=<db> -->`,
 * values percent-encoded (so spaces, `=` and `-->` in names cannot break it).
 */
export function buildMarker(identity: IssueIdentity): string {
  return `<!-- ${MARKER_PREFIX} workflow=${enc(identity.workflow)} job=${enc(identity.job)} database=${enc(identity.database)} -->`;
}

/** The identity in an issue body's marker, or undefined when there is none (or it lacks a field). */
export function parseMarker(body: string | null | undefined): IssueIdentity | undefined {
  if (!body) return undefined;
  const fields = markerFields(body, undefined);
  const workflow = fields?.get('workflow');
  const job = fields?.get('job');
  const database = fields?.get('database');
  if (workflow === undefined || job === undefined || database === undefined) return undefined;
  return { workflow, job, database };
}

/** True when both name the same workflow, job and database. */
export function sameIdentity(a: IssueIdentity, b: IssueIdentity): boolean {
  return a.workflow === b.workflow && a.job === b.job && a.database === b.database;
}

/** A failure record (end of the issue body, top of each failure comment). */
export interface FailureMarker {
  runId: string;
  attempt: number;
  command: string;
  /** Consecutive failed runs up to and including this one. */
  consecutive: number;
}

/** `<!-- postgres-backup-action:v1 failure run=<id> attempt=<n> command=<c> consecutive=<n> -->` */
export function buildFailureMarker(m: FailureMarker): string {
  return `<!-- ${MARKER_PREFIX} failure run=${enc(m.runId)} attempt=${m.attempt} command=${enc(m.command)} consecutive=${m.consecutive} -->`;
}

/** The failure record in a body or comment, or undefined. */
export function parseFailureMarker(text: string | null | undefined): FailureMarker | undefined {
  if (!text) return undefined;
  const fields = markerFields(text, 'failure');
  if (!fields) return undefined;
  const attempt = Number(fields.get('attempt') ?? '1');
  const consecutive = Number(fields.get('consecutive') ?? '1');
  return {
    runId: fields.get('run') ?? '',
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
    command: fields.get('command') ?? '',
    consecutive: Number.isInteger(consecutive) && consecutive > 0 ? consecutive : 1,
  };
}

/** `<!-- postgres-backup-action:v1 recovered run=<id> attempt=<n> -->` */
export function buildRecoveredMarker(runId: string, attempt: number): string {
  return `<!-- ${MARKER_PREFIX} recovered run=${enc(runId)} attempt=${attempt} -->`;
}
