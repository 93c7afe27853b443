/**
 * Parallel restores that pg_restore orders wrongly, retried serially.
 *
 * `pg_restore --jobs=N` runs data and post-data items as soon as their recorded dependencies are
 * restored, largest tables first. Some dependencies are not recorded, and a serial restore of the
 * same archive (in its TOC order) works where the parallel one fails. Seen on PostgreSQL 15:
 * - a `NOT VALID` domain CHECK constraint is a post-data item depending on the domain only: a
 *   worker may add it before the COPY of a table holding older, violating values starts, and the
 *   COPY fails ("value for domain … violates check constraint");
 * - a table CHECK constraint calling a function that reads another table (pg_dump cannot see into
 *   the function): the larger table's COPY starts first and its rows fail the check.
 *
 * When a `jobs > 1` restore fails on such an error, it is retried with `jobs: 1` in a fresh
 * database: only one the run created (restore with `create-database` that created it, the drill's
 * scratch database), dropped and created again. Errors a serial run cannot fix are not retried
 * (see {@link serialRetryReason}).
 */
import type { Log } from '../log.js';
import { ChildExitError } from '../pipeline/process.js';
import { classifyPgError } from '../postgres/classify.js';
import type { Connection } from '../postgres/types.js';
import { RestoreError } from './errors.js';
import { dropDatabase, prepareScratch, type ScratchAccess, type TargetDb } from './target.js';

/**
 * Failures that a serial restore would meet too: server unreachable or refusing us, full disk, a
 * too-old pg_restore, roles/privileges/extensions/files the target lacks, the tool killed.
 */
const NOT_ORDERING =
  /role "[^"]*" does not exist|permission denied|must be owner of|must be superuser|extension|could not (open|access) file|No space left on device|could not extend file|out of memory|terminating connection|server closed the connection|canceling statement/i;

/**
 * The first SQL error of a failed parallel pg_restore when a serial restore may succeed (an
 * ordering error), else undefined. Pure: reads the RestoreError's cause (pg_restore's exit with its
 * stderr). Not retried: anything but pg_restore's own `ERROR:` (connection failures, corrupt or
 * cut archives, decompression, cancellation), and the errors of {@link NOT_ORDERING}.
 */
export function serialRetryReason(error: unknown): string | undefined {
  if (!(error instanceof RestoreError)) return undefined;
  const cause = error.cause;
  if (!(cause instanceof ChildExitError) || cause.stage !== 'pg_restore' || cause.signal) return undefined;
  const stderr = cause.stderr;
  const first = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => /\bERROR:\s/.test(l));
  if (!first || NOT_ORDERING.test(stderr)) return undefined;
  const kind = classifyPgError(stderr, { host: '', port: 0, tool: 'pg_restore' }).kind;
  if (kind !== 'unknown' && kind !== 'database-missing') return undefined;
  return first.replace(/^pg_restore: error: /, '');
}

/** What {@link withSerialRetry} needs. */
export interface SerialRetryPlan {
  /** The `jobs` of the run; a serial run (1) is never retried. */
  jobs: number;
  /**
   * Drops the target and creates it again, as the run first created it; undefined when the run did
   * not create the target (nothing is dropped then: the failure is reported with the advice).
   */
  recreate: (() => Promise<void>) | undefined;
  log: Log;
  signal?: AbortSignal | undefined;
}

/**
 * Runs `attempt(jobs)`; when a parallel attempt fails on an ordering error (see
 * {@link serialRetryReason}) and the target can be recreated, warns naming the first error,
 * recreates the target and runs `attempt(1)`.
 * @throws the attempt's error (unchanged when it is not an ordering error; a RestoreError with the
 *   advice `jobs: 1` when it is one but the target was not created by the run), or the retry's.
 */
export async function withSerialRetry<T>(plan: SerialRetryPlan, attempt: (jobs: number) => Promise<T>): Promise<T> {
  try {
    return await attempt(plan.jobs);
  } catch (error) {
    if (plan.jobs <= 1 || plan.signal?.aborted) throw error;
    const reason = serialRetryReason(error);
    if (reason === undefined) throw error;
    if (!plan.recreate) {
      throw new RestoreError(
        `${(error as RestoreError).message} This may be pg_restore's parallel ordering (jobs: ${plan.jobs}): items whose dependencies the archive does not record ran too early. The target database was not created by this run, so it is not dropped and the restore is not retried: empty it and restore with jobs: 1.`,
        { cause: error },
      );
    }
    plan.log.warning(
      `The parallel restore (jobs: ${plan.jobs}) failed on "${reason}", which a serial restore avoids (pg_restore's parallel ordering). Dropping and recreating the database this run created, then restoring again with jobs: 1.`,
    );
    await plan.recreate();
    return attempt(1);
  }
}

/**
 * Drops the drill's scratch database and creates it again through {@link prepareScratch} (the one
 * place a scratch database is created).
 * @throws RestoreError when the drop fails.
 */
export async function recreateScratch(
  deps: ScratchAccess,
  target: Connection,
  create?: (db: TargetDb) => Promise<unknown>,
): Promise<void> {
  const failed = await dropDatabase(deps, target);
  if (failed) throw new RestoreError(`Dropping '${target.database}' before the serial retry failed: ${failed}`);
  await prepareScratch(deps, target, undefined, create);
}
