/**
 * The multi-database fixture (test/support/multi-db.ts) checked with the plain client tools of this
 * machine, as its backup role over TCP: the three healthy databases dump; `ledger` dumps while
 * healthy and, once broken, fails in its data phase at the COPY of `public.entries` (after
 * `public.accounts`) with the row-level security error; `locked` refuses the connection.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { startCluster, type Cluster } from '../support/pg-cluster.js';
import { createMultiDbServer, type MultiDbServer } from '../support/multi-db.js';

const PASSWORD = 'Fixture-Sentinel-pw-41c8';

let cluster: Cluster;
let server: MultiDbServer;

beforeAll(async () => {
  cluster = await startCluster();
  server = await createMultiDbServer(cluster, PASSWORD);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

interface Dump {
  code: number;
  stderr: string;
  bytes: number;
}

/** `pg_dump -Fc -v` of `db` as the backup role over TCP, its output counted and dropped. */
function dump(db: string): Promise<Dump> {
  return new Promise((resolve) => {
    const child = execFile(
      path.join(cluster.binDir, 'pg_dump'),
      ['-Fc', '-v', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', server.role, '-d', db],
      { env: { PATH: process.env.PATH ?? '', PGPASSWORD: PASSWORD }, encoding: 'buffer', maxBuffer: 1 << 28 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stderr: stderr.toString('utf8'),
          bytes: stdout.length,
        }),
    );
    child.stdin?.end();
  });
}

test('what `all` means for the role: every database that accepts connections except the templates', async () => {
  const listed = await cluster.psql(
    'postgres',
    'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname COLLATE "C"',
  );
  expect(listed.split('\n')).toEqual([...server.all]);
  const refused = await cluster.psql(
    'postgres',
    `SELECT datname FROM pg_database WHERE NOT datistemplate AND NOT has_database_privilege('${server.role}', datname, 'CONNECT')`,
  );
  expect(refused).toBe(server.unreachable);
  expect(
    await cluster.psql('postgres', `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = '${server.role}'`),
  ).toBe('f');
});

test('plain pg_dump as the backup role: healthy databases dump, locked refuses the connection', async () => {
  for (const db of [...server.dumpable, 'postgres', server.failing]) {
    const result = await dump(db);
    expect({ db, code: result.code, error: result.stderr.match(/error:.*/)?.[0] }).toEqual({
      db,
      code: 0,
      error: undefined,
    });
    expect(result.bytes).toBeGreaterThan(0);
  }
  const locked = await dump(server.unreachable);
  expect(locked.code).toBe(1);
  expect(locked.stderr).toContain('permission denied for database "locked"');
}, 60_000);

test('the broken ledger fails mid-dump at the COPY of public.entries, after public.accounts', async () => {
  await server.breakDump();
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = await dump(server.failing);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        'pg_dump: error: query failed: ERROR:  query would be affected by row-level security policy for table "entries"',
      );
      expect(result.stderr).toContain('Query was: COPY public.entries (id, account_id, cents) TO stdout;');
      const accounts = result.stderr.indexOf('dumping contents of table "public.accounts"');
      const entries = result.stderr.indexOf('dumping contents of table "public.entries"');
      expect(accounts).toBeGreaterThan(0);
      expect(entries).toBeGreaterThan(accounts);
      expect(result.stderr).not.toContain('dumping contents of table "public.zz_after"');
    }
  } finally {
    await server.repairDump();
  }
  expect((await dump(server.failing)).code).toBe(0);
}, 60_000);
