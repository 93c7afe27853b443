import { ActionError, DumpError, EncryptError, UploadError, errorMessage } from '../errors.js';
import { killedByUs, type ChildStage } from '../pipeline/process.js';
import { AllOutputsFailedError } from '../pipeline/stages.js';
import { dumpFailure } from '../postgres/dump-failure.js';
import type { Connection } from '../postgres/types.js';

/** The real reason a stream failed: a child's exit status first, then the stores' errors. */
export async function rootCause(
  children: ChildStage[],
  connection: Connection,
  uploads: PromiseSettledResult<unknown>[],
  signal: AbortSignal | undefined,
  streamError: unknown,
): Promise<Error> {
  const exits = await Promise.allSettled(children.map((c) => c.done));
  const uploadErrors = uploads
    .filter((u): u is PromiseRejectedResult => u.status === 'rejected')
    .map((u) => errorMessage(u.reason));
  // Every store failed first: the dump was stopped because of them (pg_dump then sees a broken pipe).
  if (streamError instanceof AllOutputsFailedError && uploadErrors.length > 0 && !signal?.aborted) {
    return new UploadError(uploadErrors.join('; '), { cause: streamError });
  }
  if (signal?.aborted)
    return new DumpError(
      'The backup was cancelled (SIGINT/SIGTERM): pg_dump was stopped and every upload aborted; no archive was stored.',
    );
  // gpg is never failed by what is upstream of it (a failing pg_dump gives it end-of-file) and is
  // stopped by us when a store fails: its own failure is the cause, even if pg_dump then sees EPIPE.
  const gpgFailed = exits.find(
    (e, i) => e.status === 'rejected' && children[i]?.name === 'gpg' && !killedByUs(e.reason),
  );
  if (gpgFailed?.status === 'rejected')
    return new EncryptError(`gpg could not encrypt the archive: ${errorMessage(gpgFailed.reason)}`, {
      cause: gpgFailed.reason,
    });
  const pgDumpFailed = exits.find(
    (e, i) => e.status === 'rejected' && children[i]?.name === 'pg_dump' && !killedByUs(e.reason),
  );
  if (pgDumpFailed?.status === 'rejected') return dumpFailure(pgDumpFailed.reason, connection);
  // A stage of ours failed with a typed error (e.g. encryption): that is the cause.
  if (streamError instanceof ActionError && !(streamError instanceof UploadError)) return streamError;
  const otherFailed = exits.find((e) => e.status === 'rejected' && !killedByUs(e.reason));
  if (otherFailed?.status === 'rejected')
    return new DumpError(`The dump stream failed: ${errorMessage(otherFailed.reason)}`, { cause: otherFailed.reason });
  if (uploadErrors.length > 0) return new UploadError(uploadErrors.join('; '), { cause: streamError });
  return new DumpError(`The dump stream failed: ${errorMessage(streamError)}`, { cause: streamError });
}
