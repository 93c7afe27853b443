/** Which failed parallel restores are retried serially (restore/retry.ts), as a table. */
import { ChildExitError } from '../../src/pipeline/process.js';
import { CorruptArchiveError, RestoreError } from '../../src/restore/errors.js';
import { serialRetryReason, withSerialRetry } from '../../src/restore/retry.js';
import type { Log } from '../../src/log.js';

function failed(stderr: string, stage = 'pg_restore', signal: NodeJS.Signals | null = null): RestoreError {
  return new RestoreError('Restoring k failed', {
    cause: new ChildExitError(stage, signal ? null : 1, signal, stderr),
  });
}

const ORDERING =
  'pg_restore: error: COPY failed for table "b_lines": ERROR:  new row for relation "b_lines" violates check constraint "c"\npg_restore: error: a worker process died unexpectedly';

test.each<[string, unknown, string | undefined]>([
  [
    'a check violated in a parallel COPY',
    failed(ORDERING),
    'COPY failed for table "b_lines": ERROR:  new row for relation "b_lines" violates check constraint "c"',
  ],
  [
    'a NOT VALID domain check added before the data',
    failed(
      'pg_restore: error: COPY failed for table "dt": ERROR:  value for domain public.posint violates check constraint "posint_check"',
    ),
    'COPY failed for table "dt": ERROR:  value for domain public.posint violates check constraint "posint_check"',
  ],
  [
    'a missing role',
    failed('pg_restore: error: could not execute query: ERROR:  role "app" does not exist'),
    undefined,
  ],
  [
    'permission denied',
    failed('pg_restore: error: could not execute query: ERROR:  permission denied for schema s'),
    undefined,
  ],
  [
    'a missing extension',
    failed('pg_restore: error: could not execute query: ERROR:  extension "postgis" is not available'),
    undefined,
  ],
  [
    'a full disk',
    failed('pg_restore: error: COPY failed: ERROR:  could not extend file "base/1/2": No space left on device'),
    undefined,
  ],
  [
    'a refused connection',
    failed('pg_restore: error: connection to server at "h" (1.2.3.4), port 5432 failed: Connection refused'),
    undefined,
  ],
  ['pg_restore killed', failed(ORDERING, 'pg_restore', 'SIGTERM'), undefined],
  ['psql (a plain archive is never parallel)', failed('psql:<stdin>:1: ERROR:  boom', 'psql'), undefined],
  [
    'a corrupt archive',
    new CorruptArchiveError('k', 'w', { bytes: 1, sha256: 'a' }, { bytes: 1, sha256: 'b' }),
    undefined,
  ],
  ['no SQL error (a read failure)', new RestoreError('Reading the archive k failed'), undefined],
])('%s', (_name, error, expected) => {
  expect(serialRetryReason(error)).toBe(expected);
});

const log: Log = { info: () => undefined, warning: () => undefined, group: async (_n, fn) => fn() };

test('withSerialRetry: retries once with jobs 1 after recreating; never for jobs 1 or without recreate', async () => {
  const jobsSeen: number[] = [];
  let recreated = 0;
  const attempt = (jobs: number): Promise<string> => {
    jobsSeen.push(jobs);
    return jobs > 1 ? Promise.reject(failed(ORDERING)) : Promise.resolve('ok');
  };
  const recreate = (): Promise<void> => {
    recreated++;
    return Promise.resolve();
  };
  await expect(withSerialRetry({ jobs: 3, recreate, log }, attempt)).resolves.toBe('ok');
  expect(jobsSeen).toEqual([3, 1]);
  expect(recreated).toBe(1);
  await expect(withSerialRetry({ jobs: 2, recreate: undefined, log }, attempt)).rejects.toThrow(
    /restore with jobs: 1\./,
  );
  const serial = async (): Promise<string> => Promise.reject(failed(ORDERING));
  await expect(withSerialRetry({ jobs: 1, recreate, log }, serial)).rejects.toThrow('Restoring k failed');
  expect(recreated).toBe(1);
});
