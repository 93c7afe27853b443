/**
 * A server with several databases, for backing up every database of a server in one run (issue 22),
 * built on a cluster from {@link startCluster}:
 *
 * - a backup role: LOGIN, not a superuser, with a password, member of `pg_read_all_data` (SELECT on
 *   every table and sequence, USAGE on every schema, in every database; it does NOT bypass row-level
 *   security) and granted SELECT on the sample shop's large objects;
 * - `app` (customers, orders, a serial), `analytics` (the project's sample shop at a small scale:
 *   schema `shop`, partitions, views, large objects) and `my db ü` (spaces and unicode in the database,
 *   schema and table names): the role dumps all three;
 * - `ledger`: `public.accounts`, `public.entries` (owned by the role `ledger_owner`, with a policy)
 *   and `public.zz_after`. While healthy, row-level security on `entries` is disabled and the role
 *   dumps it. {@link MultiDbServer.breakDump} enables it: pg_dump (which sets `row_security = off`)
 *   then fails mid-dump, deterministically, in its data phase: the schema and the data of
 *   `public.accounts` are written, then `COPY public.entries (id, account_id, cents) TO stdout` fails:
 *   `pg_dump: error: query failed: ERROR:  query would be affected by row-level security policy for
 *   table "entries"` and pg_dump exits 1 before `public.zz_after` (verified with pg_dump 15.20 by
 *   test/integration/multi-db-fixture.test.ts);
 * - `locked`: CONNECT revoked from PUBLIC, so the role cannot connect
 *   (`FATAL:  permission denied for database "locked"`).
 *
 * The `postgres` maintenance database stays as initdb made it (no tables; the role may connect).
 * Databases are created in the order app, analytics, my db ü, ledger, locked (oid order).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSampleDb, type Cluster } from './pg-cluster.js';

const execFileAsync = promisify(execFile);

/** The backup role's name. */
export const BACKUP_ROLE = 'server_backup';

export interface MultiDbServer {
  role: typeof BACKUP_ROLE;
  password: string;
  /** Databases the role dumps whatever the state, in creation order: app, analytics, my db ü. */
  dumpable: readonly string[];
  /** The database whose dump fails after {@link breakDump}: `ledger`. */
  failing: 'ledger';
  /** The database the role cannot connect to: `locked`. */
  unreachable: 'locked';
  /**
   * What `database: all` means for the role, sorted (C collation): every database that accepts
   * connections except the templates, `postgres`, `ledger` and `locked` included.
   */
  all: readonly string[];
  /** postgres://server_backup:<password>@127.0.0.1:<port>/<db> (the name percent-encoded). */
  url(db: string): string;
  /** Enables row-level security on `ledger.public.entries`: pg_dump as the role fails from now on. */
  breakDump(): Promise<void>;
  /** Disables it again: the role dumps `ledger` fully. */
  repairDump(): Promise<void>;
}

const APP_SQL = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 250) g;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES customers, total_cents int NOT NULL);
INSERT INTO orders SELECT g, 1 + g % 250, (g * 37) % 10000 FROM generate_series(1, 1200) g;
CREATE TABLE settings (key text PRIMARY KEY, value jsonb);
INSERT INTO settings VALUES ('theme', '"dark"'), ('limits', '{"max": 10}');`;

const UNICODE_SQL = `
CREATE SCHEMA "Grüße";
CREATE TABLE "Grüße"."Bücher Liste" (id int PRIMARY KEY, titel text NOT NULL);
INSERT INTO "Grüße"."Bücher Liste" SELECT g, 'Buch Nr. ' || g || ' – ü' FROM generate_series(1, 77) g;
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes SELECT g, repeat('ü', g % 40) FROM generate_series(1, 300) g;`;

const LEDGER_SQL = `
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, 40) g;
CREATE TABLE entries (id int PRIMARY KEY, account_id int NOT NULL, cents int NOT NULL);
INSERT INTO entries SELECT g, 1 + g % 40, g * 3 FROM generate_series(1, 500) g;
ALTER TABLE entries OWNER TO ledger_owner;
CREATE POLICY entries_visible ON entries FOR SELECT USING (cents >= 0);
CREATE TABLE zz_after (id int PRIMARY KEY);
INSERT INTO zz_after SELECT generate_series(1, 25);`;

/** Scale of the sample shop in `analytics`: 1/20 (~10 MB database, loads in ~0.2 s). */
export const ANALYTICS_SCALE = 0.05;

/**
 * Creates the role and the databases above on `cluster` (as postgres over the socket).
 * @param password the role's password (a test's sentinel: look for it in every output).
 * @throws Error when a psql or the sample load fails.
 */
export async function createMultiDbServer(cluster: Cluster, password: string): Promise<MultiDbServer> {
  const quoted = password.replace(/'/g, "''");
  await cluster.psql(
    'postgres',
    `CREATE ROLE ${BACKUP_ROLE} LOGIN NOSUPERUSER PASSWORD '${quoted}';
     GRANT pg_read_all_data TO ${BACKUP_ROLE};
     CREATE ROLE ledger_owner NOLOGIN;`,
  );
  await cluster.createDatabase('app');
  await cluster.psql('app', APP_SQL);
  await loadSampleDb(cluster, 'analytics', ANALYTICS_SCALE);
  await cluster.psql(
    'analytics',
    `DO $$ DECLARE o oid; BEGIN
       FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP
         EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO ${BACKUP_ROLE}', o);
       END LOOP;
     END $$;`,
  );
  await cluster.createDatabase('my db ü');
  await cluster.psql('my db ü', UNICODE_SQL);
  await cluster.createDatabase('ledger');
  await cluster.psql('ledger', LEDGER_SQL);
  await cluster.createDatabase('locked');
  await cluster.psql('locked', 'CREATE TABLE secret (id int); INSERT INTO secret VALUES (1);');
  await cluster.psql('postgres', 'REVOKE CONNECT ON DATABASE locked FROM PUBLIC;');
  const all = ['analytics', 'app', 'ledger', 'locked', 'my db ü', 'postgres'];
  return {
    role: BACKUP_ROLE,
    password,
    dumpable: ['app', 'analytics', 'my db ü'],
    failing: 'ledger',
    unreachable: 'locked',
    all,
    url: (db) => cluster.url(db, BACKUP_ROLE, password),
    breakDump: () => cluster.psql('ledger', 'ALTER TABLE entries ENABLE ROW LEVEL SECURITY;').then(() => undefined),
    repairDump: () => cluster.psql('ledger', 'ALTER TABLE entries DISABLE ROW LEVEL SECURITY;').then(() => undefined),
  };
}

/**
 * Runs `during` while polling pg_stat_activity (one psql after the other): the most databases other
 * than `postgres` (where a run of `database: all` connects first) that `role` had sessions in at once.
 */
export async function watchSessions<V>(
  cluster: Cluster,
  role: string,
  during: () => Promise<V>,
): Promise<{ value: V; most: number }> {
  let most = 0;
  let done = false;
  const poll = (async () => {
    while (!done) {
      const n = await cluster.psql(
        'postgres',
        `SELECT count(DISTINCT datname) FROM pg_stat_activity WHERE usename = '${role}' AND datname <> 'postgres'`,
      );
      most = Math.max(most, Number(n));
    }
  })();
  try {
    return { value: await during(), most };
  } finally {
    done = true;
    await poll;
  }
}

/**
 * Restores a custom-format archive file (`.zst` decompressed by the zstd CLI) into the existing
 * database `target` with pg_restore as postgres over the socket (`--exit-on-error`).
 * @throws Error with pg_restore's stderr when it fails.
 */
export async function restoreArchive(cluster: Cluster, archive: string, target: string): Promise<void> {
  await execFileAsync(
    'sh',
    ['-c', `${archive.endsWith('.zst') ? 'zstd -q -dc' : 'cat'} "$ARCHIVE" | "$PG_RESTORE" --exit-on-error -d "$DB"`],
    {
      env: {
        PATH: process.env.PATH ?? '',
        ARCHIVE: archive,
        PG_RESTORE: path.join(cluster.binDir, 'pg_restore'),
        DB: `host=${cluster.socketDir} port=${cluster.port} user=postgres dbname=${target}`,
      },
    },
  );
}
