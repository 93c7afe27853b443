// The benches' S3 server: s3rver in its own Node process on 127.0.0.1 with one bucket `bench`, so
// its CPU is not counted as the measured process's. Its listing continuation tokens are
// DES-encrypted, which needs OpenSSL's legacy provider on Node 17+ (without it, any listing that
// needs a second page fails with InternalError).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * Starts s3rver storing under `dir` (created).
 * @returns `{ child, endpoint, clearBucket }`: the process (kill it when done), `http://127.0.0.1:<port>`,
 *   and a function emptying the bucket between stages.
 * @throws when s3rver exits before it prints its port.
 */
export async function startBenchS3(dir) {
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      '-e',
      `const S3rver = require(${JSON.stringify(require.resolve('s3rver'))});
       new S3rver({ silent: true, directory: ${JSON.stringify(dir)}, port: 0, address: '127.0.0.1', configureBuckets: [{ name: 'bench' }] })
         .run().then(({ port }) => console.log(port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver exited ${code}`)));
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
  });
  const clearBucket = () => {
    for (const entry of readdirSync(path.join(dir, 'bench')))
      rmSync(path.join(dir, 'bench', entry), { recursive: true, force: true });
  };
  return { child, endpoint: `http://127.0.0.1:${port}`, clearBucket };
}
