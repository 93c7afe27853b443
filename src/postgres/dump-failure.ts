/**
 * pg_dump's failures in words a user can act on: its exit classified (classify.ts), and a lock wait
 * that timed out with the sessions holding the lock named (locks.ts).
 */
import { DumpError, errorMessage } from '../errors.js';
import { ChildExitError } from '../pipeline/process.js';
import { classifyPgError } from './classify.js';
import type { DatabaseInspector } from './inspect.js';
import { describeHolder, lockWaitRelations, markLockWait, relationsOfLockQuery } from './locks.js';
import type { Connection } from './types.js';

/**
 * A lock wait that timed out (marked by markLockWait: a count, or pg_dump's LOCK TABLE) gets the
 * relation and the sessions holding ACCESS EXCLUSIVE on it appended, read from pg_locks now.
 * Other errors are returned as they are.
 */
export async function explainLockWait(error: Error, inspector: DatabaseInspector): Promise<Error> {
  const relations = lockWaitRelations(error);
  if (!relations || relations.length === 0 || lockWaitRelations(error.cause) === relations) return error;
  const holders = await inspector.exclusiveHolders(relations).catch(() => new Map<string, never[]>());
  const named = [...holders].filter(([, list]) => list.length > 0);
  const text =
    named.length > 0
      ? named.map(([relation, list]) => `${relation} is locked by ${list.map(describeHolder).join('; ')}`).join('; ')
      : `The wait was for ${relations.length === 1 ? relations[0] : `one of ${relations.slice(0, 5).join(', ')}${relations.length > 5 ? ', …' : ''}`}; its holder had gone when the wait ended`;
  return markLockWait(new DumpError(`${error.message} ${text}.`, { cause: error }), relations);
}

/** Turns pg_dump's exit into a DumpError with the classified, actionable message. */
export function dumpFailure(error: unknown, connection: Connection): DumpError {
  if (error instanceof ChildExitError) {
    const stderr = error.stderr || error.message;
    const { kind, message } = classifyPgError(stderr, {
      host: connection.host,
      port: connection.port,
      tool: error.stage,
    });
    const failure = new DumpError(message, { cause: error });
    // pg_dump's lock wait ends as a timeout of its LOCK TABLE (detail line "Query was: LOCK TABLE …").
    const relations = kind === 'timeout' ? relationsOfLockQuery(stderr) : [];
    return relations.length > 0 ? markLockWait(failure, relations) : failure;
  }
  return error instanceof DumpError ? error : new DumpError(errorMessage(error), { cause: error });
}
