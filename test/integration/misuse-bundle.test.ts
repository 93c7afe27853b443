/**
 * Misuse answered before work, naming the input (issue 17 item 8), through the bundle
 * (dist/index.js run as the runner runs it) against a real PostgreSQL cluster (with TLS on, from a
 * CA made here with openssl) and a real S3 server (s3rver, which checks request signatures):
 *
 * - wrong S3 keys: exit 1 naming s3-access-key-id/s3-secret-access-key before the database is
 *   touched (no Connect phase, the store saw one listing request and nothing else); `list` names
 *   them too;
 * - a bucket in the s3-endpoint host name: explained, nothing run;
 * - a `table`/`schema` pattern that matches nothing, beside one that matches: exit 1 naming the input
 *   and the pattern, before pg_dump (no Dump phase, nothing stored);
 * - pg-dump-args with an option the chosen pg_dump lacks: exit 1 naming pg-dump-args, before pg_dump;
 * - sslrootcert: relative to the workspace (verify-full against the CA made here), a missing file
 *   reported as such, and `system` understood (a self-signed server is then refused by verification);
 * - inputs of other commands: one warning naming them, the backup still succeeds.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction } from '../support/action-runner.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import { eventually } from '../support/poll.js';
import { startS3Server, testS3Inputs, type S3Server } from '../support/s3-server.js';

const PASSWORD = 'Misuse-pw-41c7';
const BUCKET = 'misuse';

let cluster: Cluster;
let s3: S3Server;
let work: string;
/** The workspace of the runs (GITHUB_WORKSPACE), holding certs/ca.crt. */
let workspace: string;
let clientMajor: number;

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl), installed into the cluster with ssl = on. */
async function enableTls(): Promise<void> {
  const dir = path.join(work, 'tls');
  mkdirSync(dir);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=misuse-test-ca',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.cnf',
  );
  for (const file of ['server.crt', 'server.key']) {
    const target = path.join(cluster.dataDir, file);
    writeFileSync(target, execFileSync('cat', [path.join(dir, file)]));
    chmodSync(target, 0o600);
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(target, uid, gid);
    }
  }
  mkdirSync(path.join(workspace, 'certs'));
  writeFileSync(path.join(workspace, 'certs', 'ca.crt'), execFileSync('cat', [path.join(dir, 'ca.crt')]));
  await cluster.psql('postgres', 'ALTER SYSTEM SET ssl = on');
  await cluster.psql('postgres', 'SELECT pg_reload_conf()');
  const on = await eventually(async () => (await cluster.psql('postgres', 'SHOW ssl')) === 'on', {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  if (!on) throw new Error('ssl did not turn on');
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'misuse-bundle-'));
  workspace = path.join(work, 'workspace');
  mkdirSync(workspace);
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await loadSampleDb(cluster, 'shop');
  await cluster.psql('postgres', `CREATE ROLE backup LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
  await s3.createBucket(BUCKET);
  await enableTls();
  clientMajor = Number(
    /(\d+)/.exec(execFileSync(path.join(cluster.binDir, 'pg_dump'), ['--version'], { encoding: 'utf8' }))?.[1],
  );
}, 180_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

const url = (query = ''): string => `${cluster.url('shop', 'backup', PASSWORD)}${query}`;
const env = (): Record<string, string> => ({ GITHUB_WORKSPACE: workspace });

/** The `::error::` line of a run (the message of its failure). */
function errorLine(stdout: string): string {
  return stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
}

function folderFiles(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder, { recursive: true }).map(String) : [];
}

describe('misuse through the bundle: answered before work, naming the input', () => {
  test('wrong S3 keys: exit 1 naming the key inputs, before the database is touched', async () => {
    const before = s3.requests.length;
    const run = await runAction({
      env: env(),
      inputs: {
        'database-url': url(),
        destination: `s3://${BUCKET}/prod`,
        ...testS3Inputs(s3.endpoint),
        's3-access-key-id': 'WRONGKEY',
        's3-secret-access-key': 'wrong-secret',
      },
    });
    expect(run.exitCode).toBe(1);
    const error = errorLine(run.stdout);
    expect(error).toMatch(/^::error::Input 's3-access-key-id': The store refused to list s3:\/\/misuse\/prod/);
    expect(error).toContain('check `s3-access-key-id` and `s3-secret-access-key`');
    expect(error).toMatch(/\[config\]$/);
    // s3rver checked the signature: InvalidAccessKeyId / 403.
    expect(error).toMatch(/InvalidAccessKeyId|403/);
    // Nothing ran after the store's answer: no database connection, no pg_dump; the first request is
    // the pre-flight listing, and nothing was written (the failure summary's look-up of the newest
    // good backup may list once more).
    expect(run.stdout).not.toContain('::group::Connect');
    expect(run.stdout).not.toContain('::group::Dump and upload');
    const requests = s3.requests.slice(before);
    expect(requests[0]).toMatch(/^GET \/misuse\/?\?.*list-type=2/);
    expect(requests[0]).toContain('max-keys=1');
    expect(requests.filter((r) => !/^GET \/misuse\/?\?.*list-type=2/.test(r))).toEqual([]);
    // The right keys pass the same check (the test's store and bucket are fine).
    const good = await runAction({
      env: env(),
      inputs: {
        'database-url': url(),
        destination: `s3://${BUCKET}/prod`,
        ...testS3Inputs(s3.endpoint),
        table: 'shop.products',
      },
    });
    expect(good.stdout + good.stderr).not.toMatch(/::error::/);
    expect(good.exitCode).toBe(0);
    expect(good.stdout).toContain(`s3://${BUCKET}/prod: reachable, credentials accepted.`);
  }, 120_000);

  test('wrong S3 keys on list (its first request): the 403 names the key inputs too', async () => {
    const run = await runAction({
      env: env(),
      inputs: {
        command: 'list',
        database: 'shop',
        destination: `s3://${BUCKET}/prod`,
        ...testS3Inputs(s3.endpoint),
        's3-access-key-id': 'WRONGKEY',
        's3-secret-access-key': 'wrong-secret',
      },
    });
    expect(run.exitCode).toBe(1);
    const error = errorLine(run.stdout);
    expect(error).toContain('InvalidAccessKeyId');
    expect(error).toContain('The store refused the credentials: check `s3-access-key-id` and `s3-secret-access-key`');
  }, 120_000);

  test('a bucket in the s3-endpoint host name is explained before anything runs', async () => {
    const before = s3.requests.length;
    const run = await runAction({
      env: env(),
      inputs: {
        'database-url': url(),
        destination: `s3://${BUCKET}/prod`,
        ...testS3Inputs(s3.endpoint),
        's3-endpoint': 'https://misuse.s3.eu-west-1.amazonaws.com',
      },
    });
    expect(run.exitCode).toBe(1);
    expect(errorLine(run.stdout)).toBe(
      "::error::Input 's3-endpoint': 'https://misuse.s3.eu-west-1.amazonaws.com' has the bucket 'misuse' in its host name (a virtual-hosted-style bucket URL); the endpoint must be the server only: leave `s3-endpoint` empty for AWS S3 (set `s3-region` to eu-west-1), and put the bucket in `destination` as s3://misuse/... [config]",
    );
    expect(run.stdout).not.toContain('::group::');
    expect(s3.requests.length).toBe(before);
  }, 120_000);

  test('a table pattern that matches nothing fails naming the input and the pattern, though another matches', async () => {
    const folder = path.join(work, 'patterns');
    const run = await runAction({
      env: env(),
      inputs: {
        'database-url': url(),
        destination: `file://${folder}`,
        table: 'shop.products\npublic.no_such_tab*\nshop.customers',
      },
    });
    expect(run.exitCode).toBe(1);
    expect(errorLine(run.stdout)).toMatch(
      /^::error::Input 'table': pattern 'public\.no_such_tab\*' matches no table, view, sequence or foreign table in database 'shop'\./,
    );
    expect(run.stdout).toContain('::group::Connect');
    expect(run.stdout).not.toContain('::group::Dump and upload');
    expect(folderFiles(folder)).toEqual([]);
  }, 120_000);

  test("schema patterns follow pg_dump's rules: 'SHOP' folds to shop; '\"SHOP\"' matches nothing", async () => {
    const folder = path.join(work, 'schemas');
    const ok = await runAction({
      env: env(),
      inputs: { 'database-url': url(), destination: `file://${folder}`, schema: 'SHOP', 'schema-only': 'true' },
    });
    expect(ok.stdout + ok.stderr).not.toMatch(/::error::/);
    expect(ok.exitCode).toBe(0);
    const bad = await runAction({
      env: env(),
      inputs: { 'database-url': url(), destination: `file://${folder}-2`, schema: 'shop\n"SHOP"' },
    });
    expect(bad.exitCode).toBe(1);
    expect(errorLine(bad.stdout)).toMatch(
      /^::error::Input 'schema': pattern '"SHOP"' matches no schema in database 'shop'\./,
    );
  }, 120_000);

  test('pg-dump-args with an option the chosen pg_dump lacks: exit 1 naming it, before pg_dump', async () => {
    // --no-policies came with pg_dump 18; this machine's client is older (the test needs that).
    expect(clientMajor).toBeLessThan(18);
    const folder = path.join(work, 'args');
    const run = await runAction({
      env: env(),
      inputs: {
        'database-url': url(),
        destination: `file://${folder}`,
        'pg-dump-args': '--no-comments\n--no-policies',
      },
    });
    expect(run.exitCode).toBe(1);
    expect(errorLine(run.stdout)).toContain(
      `::error::Input 'pg-dump-args': '--no-policies' is not an option of pg_dump ${clientMajor}.`,
    );
    expect(errorLine(run.stdout)).toContain('(pg_dump has it since 18)');
    expect(run.stdout).not.toContain('::group::Dump and upload');
    expect(folderFiles(folder)).toEqual([]);
  }, 120_000);

  test('sslrootcert relative to the workspace: verify-full against that CA, for the driver and pg_dump', async () => {
    const folder = path.join(work, 'tls-ok');
    const run = await runAction({
      env: env(),
      inputs: {
        'database-url': url('?sslmode=verify-full&sslrootcert=certs/ca.crt'),
        destination: `file://${folder}`,
        table: 'shop.customers',
      },
    });
    expect(run.stdout + run.stderr).not.toMatch(/::error::/);
    expect(run.exitCode).toBe(0);
    expect(folderFiles(folder).filter((f) => f.endsWith('.manifest.json'))).toHaveLength(1);
    // An absolute path works from any workspace (another folder: two runs in one second share a key).
    const absolute = await runAction({
      env: { GITHUB_WORKSPACE: work },
      inputs: {
        'database-url': url(
          `?sslmode=verify-full&sslrootcert=${encodeURIComponent(path.join(workspace, 'certs', 'ca.crt'))}`,
        ),
        destination: `file://${folder}-absolute`,
        table: 'shop.customers',
      },
    });
    expect(absolute.stdout + absolute.stderr).not.toMatch(/::error::/);
    expect(absolute.exitCode).toBe(0);
    // The same relative path from another workspace: reported as a missing file, naming it.
    const elsewhere = mkdtempSync(path.join(work, 'other-ws-'));
    const missing = await runAction({
      env: { GITHUB_WORKSPACE: elsewhere },
      inputs: { 'database-url': url('?sslmode=verify-full&sslrootcert=certs/ca.crt'), destination: `file://${folder}` },
    });
    expect(missing.exitCode).toBe(1);
    expect(errorLine(missing.stdout)).toContain(
      `::error::Input 'database-url': parameter sslrootcert: the file '${path.join(elsewhere, 'certs', 'ca.crt')}' does not exist (the relative path 'certs/ca.crt' is read from the workspace, ${elsewhere}).`,
    );
    expect(missing.stdout).not.toContain('::group::Connect');
    expect(missing.stdout).not.toMatch(/not a valid URL/);
  }, 120_000);

  test('sslrootcert=system is understood: the self-signed server is refused by certificate verification', async () => {
    const run = await runAction({
      env: env(),
      inputs: { 'database-url': url('?sslrootcert=system'), destination: `file://${path.join(work, 'tls-system')}` },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).not.toMatch(/not a valid URL/);
    expect(run.stdout).toContain('::group::Connect');
    expect(errorLine(run.stdout)).toMatch(/certificate/i);
    expect(errorLine(run.stdout)).toMatch(/\[connect\]$/);
  }, 120_000);

  test('inputs of other commands: one warning naming them; the backup succeeds', async () => {
    const folder = path.join(work, 'unused');
    const run = await runAction({
      env: env(),
      inputs: {
        'database-url': url(),
        destination: `file://${folder}`,
        table: 'shop.customers',
        confirm: 'shop',
        'max-age': '26h',
        'target-host': 'db2.example.com',
      },
    });
    expect(run.stdout + run.stderr).not.toMatch(/::error::/);
    expect(run.exitCode).toBe(0);
    const warnings = run.stdout.split('\n').filter((l) => l.includes('do not apply to command'));
    expect(warnings).toEqual([
      "::warning::Inputs 'target-host' (restore, drill), 'confirm' (restore, drill), 'max-age' (check) do not apply to command backup and are ignored. Remove them from this step, or check `command`.",
    ]);
  }, 120_000);
});
