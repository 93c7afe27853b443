import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConnectionError } from '../../src/errors.js';
import { classifyDriverError, classifyPgError } from '../../src/postgres/classify.js';
import { buildPgDumpArgs } from '../../src/postgres/dump-args.js';
import { connectInspector, type DatabaseInspector, type TableRowCount } from '../../src/postgres/inspect.js';
import { libpqEnv } from '../../src/postgres/libpq.js';
import type { Connection, DumpOptions } from '../../src/postgres/types.js';
import { dumpOptionsFixture } from '../support/dump-options.js';
import { freePort, loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import { eventually } from '../support/poll.js';

const execFileAsync = promisify(execFile);

const T = 60_000;

let cluster: Cluster;
let conn: Connection;
let inspector: DatabaseInspector;

/** process.env without inherited PG* variables, plus the connection's libpq variables. */
function pgEnv(c: Connection): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  return { ...env, ...libpqEnv(c) };
}

function dumpOptions(overrides: Partial<DumpOptions>): DumpOptions {
  return dumpOptionsFixture({ format: 'plain', compression: { method: 'none' }, ...overrides });
}

async function psqlCounts(db: string, tables: TableRowCount[]): Promise<Map<string, number>> {
  const sql = tables
    .map(
      (t) =>
        `SELECT '${t.schema}.${t.table}', count(*) FROM ONLY "${t.schema.replace(/"/g, '""')}"."${t.table.replace(/"/g, '""')}";`,
    )
    .join('\n');
  const out = await cluster.psql(db, sql);
  return new Map(
    out.split('\n').map((line) => {
      const [name, n] = line.split('|');
      return [name!, Number(n)];
    }),
  );
}

beforeAll(async () => {
  cluster = await startCluster();
  await loadSampleDb(cluster, 'shop');
  // sslmode unset = libpq's prefer: the server has SSL off, so this also covers the plaintext fallback.
  conn = {
    host: cluster.host,
    port: cluster.port,
    user: 'postgres',
    password: cluster.password,
    database: 'shop',
    params: {},
  };
  inspector = await connectInspector(conn);
}, T);

afterAll(async () => {
  await inspector?.close();
  await cluster?.stop();
}, T);

test(
  'serverInfo reports the real server version and database size',
  async () => {
    const info = await inspector.serverInfo();
    expect(info.major).toBe(15);
    expect(info.versionNum).toBeGreaterThanOrEqual(150000);
    expect(info.versionNum).toBeLessThan(160000);
    expect(info.version).toBe(await cluster.psql('shop', 'SHOW server_version'));
    const size = Number(await cluster.psql('shop', 'SELECT pg_database_size(current_database())'));
    expect(info.databaseSizeBytes).toBeGreaterThan(5_000_000);
    expect(Math.abs(info.databaseSizeBytes - size) / size).toBeLessThan(0.05);
  },
  T,
);

test(
  'exact row counts equal count(*) for every table; partitions are listed individually',
  async () => {
    const session = await inspector.openSnapshot();
    try {
      expect(session.snapshotId).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);
      const rows = await session.rowCounts('exact');
      const expected = await psqlCounts('shop', rows);
      expect(rows.length).toBe(19);
      for (const t of rows)
        expect([`${t.schema}.${t.table}`, t.rows]).toEqual([
          `${t.schema}.${t.table}`,
          expected.get(`${t.schema}.${t.table}`),
        ]);
      const byName = new Map(rows.map((t) => [t.table, t.rows]));
      expect(byName.get('customers')).toBe(Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.customers')));
      expect(byName.get('customers')).toBeGreaterThan(0);
      expect(byName.get('products')).toBe(Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.products')));
      expect(byName.get('products')).toBeGreaterThan(0);
      expect(byName.get('orders')).toBe(Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.orders')));
      // events is partitioned: the parent is omitted, its 13 partitions appear with their own rows.
      expect(byName.has('events')).toBe(false);
      const partitions = rows.filter((t) => t.table.startsWith('events_'));
      expect(partitions.map((t) => t.table)).toEqual([
        ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) => `events_2024_${String(m).padStart(2, '0')}`),
        'events_default',
      ]);
      const eventsTotal = Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.events'));
      expect(partitions.reduce((sum, t) => sum + t.rows, 0)).toBe(eventsTotal);
      expect(eventsTotal).toBeGreaterThan(1_000);
      // Sorted by schema, then table.
      const names = rows.map((t) => `${t.schema}\u0000${t.table}`);
      expect(names).toEqual([...names].sort());
    } finally {
      await session.close();
    }
  },
  T,
);

test(
  'estimated row counts are non-negative numbers, reltuples once analyzed',
  async () => {
    const session = await inspector.openSnapshot();
    try {
      const before = await session.rowCounts('estimate');
      expect(before.length).toBe(19);
      for (const t of before) expect(t.rows).toBeGreaterThanOrEqual(0);
    } finally {
      await session.close();
    }
    await cluster.psql('shop', 'ANALYZE shop.products');
    const session2 = await inspector.openSnapshot();
    try {
      const products = (await session2.rowCounts('estimate')).find((t) => t.table === 'products');
      expect(products?.rows).toBe(Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.products')));
    } finally {
      await session2.close();
    }
  },
  T,
);

test(
  'catalog counts of the sample shop',
  async () => {
    const session = await inspector.openSnapshot();
    try {
      // Measured with psql on a fresh load of scripts/sample-db (schema shop; plpgsql is the only
      // extension): 6 tables and 13 partitions of events, 44 indexes (2 partitioned), 3 functions,
      // 6 identity sequences and invoice_number_seq.
      expect(await session.catalogCounts()).toEqual({
        tables: 19,
        partitionedTables: 1,
        indexes: 44,
        constraints: 47,
        views: 1,
        materializedViews: 1,
        functions: 3,
        sequences: 7,
      });
    } finally {
      await session.close();
    }
  },
  T,
);

test(
  'extension members are not counted; odd identifiers are quoted',
  async () => {
    await cluster.createDatabase('extdb');
    await cluster.psql(
      'extdb',
      `CREATE EXTENSION citext; CREATE EXTENSION pg_stat_statements;
     CREATE SCHEMA "My Schema";
     CREATE TABLE "My Schema"."Odd ""Name""" (id int PRIMARY KEY, v citext);
     INSERT INTO "My Schema"."Odd ""Name""" SELECT g, 'x' FROM generate_series(1, 3) g;
     CREATE FUNCTION public.one() RETURNS int LANGUAGE sql AS 'SELECT 1';`,
    );
    const ext = await connectInspector({ ...conn, database: 'extdb' });
    try {
      const session = await ext.openSnapshot();
      expect(await session.rowCounts('exact')).toEqual([{ schema: 'My Schema', table: 'Odd "Name"', rows: 3 }]);
      expect(await session.catalogCounts()).toEqual({
        tables: 1,
        partitionedTables: 0,
        indexes: 1,
        constraints: 1,
        views: 0,
        materializedViews: 0,
        functions: 1,
        sequences: 0,
      });
      await session.close();
    } finally {
      await ext.close();
    }
  },
  T,
);

test(
  'the snapshot hides later writes, and pg_dump --snapshot dumps the same data',
  async () => {
    const session = await inspector.openSnapshot();
    try {
      const loaded = Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.customers'));
      expect(loaded).toBeGreaterThan(0);
      await cluster.psql(
        'shop',
        `INSERT INTO shop.customers (email, full_name, country, created_at, updated_at)
         VALUES ('latecomer@example.com', 'SNAPSHOT LATECOMER', 'US', now(), now())`,
      );
      const now = Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.customers'));
      expect(now).toBe(loaded + 1);
      const customers = (await session.rowCounts('exact')).find((t) => t.table === 'customers');
      expect(customers?.rows).toBe(loaded);

      const args = buildPgDumpArgs(dumpOptions({ tables: ['shop.customers'], dataOnly: true }), {
        compress: '0',
        snapshot: session.snapshotId,
      });
      expect(args).toContain(`--snapshot=${session.snapshotId}`);
      const { stdout } = await execFileAsync(path.join(cluster.binDir, 'pg_dump'), args, {
        env: pgEnv(conn),
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(stdout).toContain('customer1@example.org');
      expect(stdout).not.toContain('LATECOMER');
      const dataLines = stdout.split('\n').filter((line) => /^\d+\t/.test(line));
      expect(dataLines).toHaveLength(loaded);
    } finally {
      await session.close();
      await cluster.psql('shop', "DELETE FROM shop.customers WHERE full_name = 'SNAPSHOT LATECOMER'");
    }
    // After close the snapshot can no longer be imported.
    const again = await execFileAsync(
      path.join(cluster.binDir, 'pg_dump'),
      ['--schema-only', `--snapshot=${session.snapshotId}`, '--no-password'],
      {
        env: pgEnv(conn),
      },
    ).then(
      () => 'ok',
      (error: { stderr: string }) => error.stderr,
    );
    expect(again).toMatch(/invalid snapshot identifier/);
  },
  T,
);

test(
  'tables the role may not read are left out of the counts; the snapshot stays importable for pg_dump',
  async () => {
    await cluster.psql(
      'shop',
      "CREATE ROLE limited LOGIN PASSWORD 'limited-pw'; GRANT USAGE ON SCHEMA shop TO limited; GRANT SELECT ON shop.customers, shop.orders TO limited; GRANT SELECT ON SEQUENCE shop.customers_id_seq TO limited;",
    );
    const limitedConn = { ...conn, user: 'limited', password: 'limited-pw' };
    const limited = await connectInspector(limitedConn);
    try {
      const session = await limited.openSnapshot();
      const [rows, catalog] = await Promise.allSettled([session.rowCounts('exact'), session.catalogCounts()]);
      expect(rows.status).toBe('fulfilled');
      expect((rows as PromiseFulfilledResult<{ table: string; rows: number }[]>).value).toEqual([
        {
          schema: 'shop',
          table: 'customers',
          rows: Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.customers')),
        },
        {
          schema: 'shop',
          table: 'orders',
          rows: Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.orders')),
        },
      ]);
      // The failed count did not abort the transaction: queries go on and the snapshot is importable.
      expect(catalog.status).toBe('fulfilled');
      expect((await session.rowCounts('estimate')).map((t) => t.table)).toEqual(['customers', 'orders']);
      const { stdout } = await execFileAsync(
        path.join(cluster.binDir, 'pg_dump'),
        ['--data-only', '--table=shop.customers', `--snapshot=${session.snapshotId}`, '--no-password'],
        { env: pgEnv(limitedConn), maxBuffer: 64 * 1024 * 1024 },
      );
      expect(stdout).toContain('customer1@example.org');
      await session.close();
    } finally {
      await limited.close();
    }
  },
  T,
);

async function connectError(c: Connection): Promise<ConnectionError> {
  const error = await connectInspector(c).then(
    async (i) => {
      await i.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectionError);
  return error as ConnectionError;
}

test(
  'wrong password → ConnectionError with the auth message',
  async () => {
    const error = await connectError({ ...conn, password: 'not-the-password' });
    expect(error.phase).toBe('connect');
    expect(error.message).toContain('Authentication to PostgreSQL at 127.0.0.1');
    expect(error.message).toContain('password authentication failed for user \\"postgres\\"'.replace(/\\"/g, '"'));
    expect(error.message).not.toContain('not-the-password');
    expect(classifyDriverError(error.cause, { host: conn.host, port: conn.port }).kind).toBe('auth');
  },
  T,
);

test(
  'nothing listening on the port → connection-refused message',
  async () => {
    const port = await freePort();
    const error = await connectError({ ...conn, port });
    expect(error.message).toContain(`Cannot connect to PostgreSQL at 127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(classifyDriverError(error.cause, { host: conn.host, port }).kind).toBe('connection-refused');
  },
  T,
);

test(
  'missing database and SSL required by the client are told apart',
  async () => {
    const missing = await connectError({ ...conn, database: 'no_such_db' });
    expect(missing.message).toContain('The database does not exist');
    expect(missing.message).toContain('database "no_such_db" does not exist');

    const ssl = await connectError({ ...conn, sslmode: 'require' });
    expect(ssl.message).toContain('SSL');
    expect(classifyDriverError(ssl.cause, { host: conn.host, port: conn.port }).kind).toBe('ssl');
  },
  T,
);

test(
  'sslmode=disable connects without trying TLS',
  async () => {
    const plain = await connectInspector({ ...conn, sslmode: 'disable' });
    try {
      expect((await plain.serverInfo()).major).toBe(15);
    } finally {
      await plain.close();
    }
  },
  T,
);

test(
  'TLS: sslmode semantics against a server with a self-signed certificate (node-pg and pg_dump agree)',
  async () => {
    const cert = path.join(cluster.dataDir, 'server.crt');
    const key = path.join(cluster.dataDir, 'server.key');
    await execFileAsync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=db.test',
      '-addext',
      'subjectAltName=DNS:db.test',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    await execFileAsync('chown', ['postgres', cert, key]);
    await execFileAsync('chmod', ['600', key]);
    await cluster.psql('postgres', 'ALTER SYSTEM SET ssl = on; SELECT pg_reload_conf();');
    // The reload is asynchronous: wait until a new session sees ssl on.
    expect(await eventually(async () => (await cluster.psql('postgres', 'SHOW ssl')) === 'on')).toBe(true);

    const ok = async (c: Connection) => {
      const i = await connectInspector(c);
      try {
        return (await i.serverInfo()).major;
      } finally {
        await i.close();
      }
    };
    expect(await ok({ ...conn, sslmode: 'require' })).toBe(15);
    expect(await ok({ ...conn, sslmode: 'verify-ca', params: { sslrootcert: cert } })).toBe(15);
    const wrongName = await connectError({ ...conn, sslmode: 'verify-full', params: { sslrootcert: cert } });
    expect(wrongName.message).toContain('issued for another host name');
    const untrusted = await connectError({ ...conn, sslmode: 'verify-full' });
    expect(untrusted.message).toContain('could not be verified');

    // pg_dump through libpqEnv: the same verdicts.
    const dump = (c: Connection) =>
      execFileAsync(
        path.join(cluster.binDir, 'pg_dump'),
        ['--schema-only', '--table=shop.customers', '--no-password'],
        {
          env: pgEnv(c),
        },
      ).then(
        () => 'ok',
        (error: { stderr: string }) => error.stderr,
      );
    expect(await dump({ ...conn, sslmode: 'verify-ca', params: { sslrootcert: cert } })).toBe('ok');
    const stderr = await dump({ ...conn, sslmode: 'verify-full', params: { sslrootcert: cert } });
    expect(stderr).toContain(
      'server certificate for "db.test" (and 1 other name) does not match host name "127.0.0.1"',
    );
    const classified = classifyPgError(stderr, { host: conn.host, port: conn.port });
    expect(classified.kind).toBe('ssl');
    expect(classified.message).toContain('issued for another host name');
  },
  T,
);

describe('the snapshot session against a role with its own timeouts (ALTER ROLE … SET)', () => {
  beforeAll(async () => {
    await cluster.psql(
      'shop',
      `CREATE ROLE idler LOGIN PASSWORD 'idler-pw'; GRANT USAGE ON SCHEMA shop TO idler; GRANT SELECT ON ALL TABLES IN SCHEMA shop TO idler;
       GRANT SELECT ON ALL SEQUENCES IN SCHEMA shop TO idler;
       ALTER ROLE idler SET idle_in_transaction_session_timeout = '200ms';
       ALTER ROLE idler SET idle_session_timeout = '200ms';
       ALTER ROLE idler SET statement_timeout = '20ms';`,
    );
  }, T);

  test(
    "sitting idle in its transaction for 3× the role's idle_in_transaction_session_timeout, it keeps the snapshot importable",
    async () => {
      const idlerConn = { ...conn, user: 'idler', password: 'idler-pw' };
      const idler = await connectInspector(idlerConn);
      try {
        const session = await idler.openSnapshot();
        // Poll the server: the session must still be there, idle in its transaction, after 600 ms.
        const idleLongEnough = await eventually(
          async () => {
            const out = await cluster.psql(
              'shop',
              `SELECT state || '|' || (extract(epoch FROM now() - state_change) >= 0.6) FROM pg_stat_activity WHERE pid = ${session.pid}`,
            );
            expect(out).toMatch(/^idle in transaction\|(true|false)$/);
            return out.endsWith('true');
          },
          { timeoutMs: 30_000, intervalMs: 50 },
        );
        expect(idleLongEnough).toBe(true);
        // The watch's connection outlived the role's idle_session_timeout too.
        expect((await idler.serverInfo()).major).toBe(15);
        const { stdout } = await execFileAsync(
          path.join(cluster.binDir, 'pg_dump'),
          ['--data-only', '--table=shop.customers', `--snapshot=${session.snapshotId}`, '--no-password'],
          { env: pgEnv(idlerConn), maxBuffer: 64 * 1024 * 1024 },
        );
        expect(stdout).toContain('customer1@example.org');
        expect((await session.rowCounts('exact')).find((t) => t.table === 'orders')?.rows).toBe(
          Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.orders')),
        );
        await session.close();
      } finally {
        await idler.close();
      }
    },
    T,
  );
});

describe('startup parameters and inherited PG* variables (node-pg sees what pg_dump sees)', () => {
  test(
    'an inherited PGOPTIONS (or PGAPPNAME) is ignored by the connection check, as pg_dump ignores it',
    async () => {
      const saved = { PGOPTIONS: process.env.PGOPTIONS, PGAPPNAME: process.env.PGAPPNAME };
      process.env.PGOPTIONS = '-c unknown_setting=1';
      process.env.PGAPPNAME = 'inherited-name';
      try {
        const i = await connectInspector(conn);
        try {
          expect((await i.serverInfo()).major).toBe(15);
          const session = await i.openSnapshot();
          const name = await cluster.psql(
            'shop',
            `SELECT application_name FROM pg_stat_activity WHERE pid = ${session.pid}`,
          );
          expect(name).toBe('');
          await session.close();
        } finally {
          await i.close();
        }
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
      expect(process.env.PGOPTIONS).toBe(saved.PGOPTIONS);
    },
    T,
  );

  test(
    "options=-c unknown_setting=1 in the URL: the server's FATAL is reported as a startup setting, by node-pg and by pg_dump",
    async () => {
      const bad = { ...conn, params: { options: '-c unknown_setting=1' } };
      const error = await connectError(bad);
      expect(classifyDriverError(error.cause, { host: conn.host, port: conn.port }).kind).toBe('startup-parameter');
      expect(error.message).toContain('unrecognized configuration parameter "unknown_setting"');
      expect(error.message).toContain('`options=-c name=value` in the connection URL');
      expect(error.message).not.toMatch(/pooler|transaction mode/);

      const stderr = await execFileAsync(path.join(cluster.binDir, 'pg_dump'), ['--schema-only', '--no-password'], {
        env: pgEnv(bad),
      }).then(
        () => 'ok',
        (e: { stderr: string }) => e.stderr,
      );
      const fromPgDump = classifyPgError(stderr, { host: conn.host, port: conn.port });
      expect(fromPgDump.kind).toBe('startup-parameter');
      expect(fromPgDump.message).toContain('unrecognized configuration parameter "unknown_setting"');
    },
    T,
  );
});
