/**
 * The project's sample database (scripts/sample-db): loaded at scale 1 by its script as a process,
 * it holds every kind of object it promises, has the promised size, is identical when loaded twice,
 * and survives a real pg_dump -Fc | pg_restore round trip unchanged.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';

const execFileAsync = promisify(execFile);

const T = 180_000;
const LOAD_SCRIPT = path.join(repoRoot(), 'scripts', 'sample-db', 'load.mjs');

let cluster: Cluster;
let tmp: string;

/** process.env without inherited PG* variables (PG_BIN_DIR aside), so only --url picks the server. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  return { ...env, PG_BIN_DIR: cluster.binDir };
}

async function load(db: string): Promise<string> {
  await cluster.createDatabase(db);
  const { stderr } = await execFileAsync(process.execPath, [LOAD_SCRIPT, '--scale', '1', '--url', cluster.url(db)], {
    env: cleanEnv(),
  });
  return stderr;
}

/** One value from a one-row, one-column query. */
async function one(db: string, sql: string): Promise<string> {
  return cluster.psql(db, sql);
}

/**
 * A fingerprint of the content: an md5 over the ordered rows of every table, partition and
 * materialized view of schema `shop`, of every large object, and of the sequences' positions.
 */
async function fingerprint(db: string): Promise<Record<string, string>> {
  const relations = (
    await cluster.psql(
      db,
      `SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind IN ('r', 'm') ORDER BY 1::text`,
    )
  ).split('\n');
  expect(relations.length).toBeGreaterThan(10);
  const parts = relations.map(
    (rel) => `SELECT '${rel}', md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM ${rel} t`,
  );
  parts.push(
    `SELECT 'large objects', md5(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid)) FROM pg_largeobject_metadata`,
    `SELECT 'sequences', string_agg(sequencename || '=' || last_value, ',' ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'shop'`,
  );
  const out = await cluster.psql(db, `SET TimeZone = 'UTC';\n${parts.join('\nUNION ALL\n')}`);
  return Object.fromEntries(out.split('\n').map((line) => line.split('|') as [string, string]));
}

beforeAll(async () => {
  cluster = await startCluster();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sample-db-'));
}, T);

afterAll(async () => {
  await cluster?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, T);

describe('sample database (scripts/sample-db)', () => {
  let first: Record<string, string>;

  test(
    'loads at scale 1 in seconds with every promised kind of object',
    async () => {
      const started = Date.now();
      const stderr = await load('sample_a');
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(stderr).toMatch(/sample database loaded at scale 1 in/);
      const db = 'sample_a';

      expect(await one(db, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'shop.events'::regclass`)).toBe('13');
      expect(Number(await one(db, 'SELECT count(*) FROM shop.events_2024_06'))).toBeGreaterThan(0);
      expect(
        await one(
          db,
          `SELECT string_agg(typname, ',' ORDER BY typname) FROM pg_type
            WHERE typnamespace = 'shop'::regnamespace AND typtype = 'e'`,
        ),
      ).toBe('order_status,payment_method');
      expect(await one(db, `SELECT count(*) FROM pg_type WHERE oid = 'shop.email'::regtype AND typtype = 'd'`)).toBe(
        '1',
      );
      expect(await one(db, `SELECT count(*) FROM pg_views WHERE schemaname = 'shop'`)).toBe('1');
      expect(
        await one(db, `SELECT ispopulated FROM pg_matviews WHERE schemaname = 'shop' AND matviewname = 'daily_sales'`),
      ).toBe('t');
      expect(
        Number(
          await one(db, `SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'shop.orders'::regclass`),
        ),
      ).toBeGreaterThanOrEqual(2);
      expect(
        Number(
          await one(
            db,
            `SELECT count(*) FROM pg_proc WHERE pronamespace = 'shop'::regnamespace AND prorettype = 'trigger'::regtype`,
          ),
        ),
      ).toBeGreaterThanOrEqual(2);
      expect(
        Number(
          await one(
            db,
            `SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind IN ('r', 'p') AND a.attidentity <> ''
                AND NOT c.relispartition`,
          ),
        ),
      ).toBeGreaterThanOrEqual(5);
      expect(
        await one(
          db,
          `SELECT count(*) FROM pg_sequences WHERE schemaname = 'shop' AND sequencename = 'invoice_number_seq'`,
        ),
      ).toBe('1');
      expect(
        await one(
          db,
          `SELECT string_agg(DISTINCT format_type(a.atttypid, NULL), ',' ORDER BY format_type(a.atttypid, NULL))
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
              AND a.atttypid IN ('jsonb'::regtype, 'bytea'::regtype)`,
        ),
      ).toBe('bytea,jsonb');
      expect(Number(await one(db, 'SELECT count(*) FROM pg_largeobject_metadata'))).toBeGreaterThanOrEqual(1);
      expect(await one(db, `SELECT obj_description('shop.customers'::regclass, 'pg_class') IS NOT NULL`)).toBe('t');
      expect(await one(db, `SELECT col_description('shop.products'::regclass, 7) IS NOT NULL`)).toBe('t');
      expect(
        Number(
          await one(
            db,
            `SELECT count(*) FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
              WHERE c.relnamespace = 'shop'::regnamespace`,
          ),
        ),
      ).toBeGreaterThanOrEqual(8);
      expect(
        await one(
          db,
          `SELECT has_schema_privilege('shop_reader', 'shop', 'USAGE')
              AND has_table_privilege('shop_reader', 'shop.orders', 'SELECT')
              AND has_table_privilege('shop_reader', 'shop.daily_sales', 'SELECT')
              AND NOT has_table_privilege('shop_reader', 'shop.orders', 'INSERT')`,
        ),
      ).toBe('t');
      expect(
        await one(
          db,
          `SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.oid = 'shop.payments'::regclass AND a.grantee = 'shop_reader'::regrole AND a.privilege_type = 'SELECT'`,
        ),
      ).toBe('1');

      const size = Number(await one(db, `SELECT pg_database_size('${db}')`));
      expect(size).toBeGreaterThanOrEqual(10 * 1024 * 1024);
      expect(size).toBeLessThanOrEqual(40 * 1024 * 1024);

      first = await fingerprint(db);
    },
    T,
  );

  test(
    'a second load into another database of the same cluster gives identical content',
    async () => {
      await load('sample_b');
      expect(await fingerprint('sample_b')).toEqual(first);
    },
    T,
  );

  test(
    'pg_dump -Fc | pg_restore into a third database succeeds without errors and keeps the content',
    async () => {
      const archive = path.join(tmp, 'sample.dump');
      const socket = ['-h', cluster.socketDir, '-p', String(cluster.port), '-U', 'postgres'];
      const dump = await execFileAsync(
        path.join(cluster.binDir, 'pg_dump'),
        [...socket, '-Fc', '-f', archive, 'sample_a'],
        {
          env: cleanEnv(),
        },
      );
      expect(dump.stderr).toBe('');
      await cluster.createDatabase('sample_c');
      const restore = await execFileAsync(
        path.join(cluster.binDir, 'pg_restore'),
        [...socket, '--exit-on-error', '-d', 'sample_c', archive],
        { env: cleanEnv() },
      );
      expect(restore.stderr).toBe('');
      expect(await fingerprint('sample_c')).toEqual(first);

      // The restored triggers still work: a status change is recorded as an event.
      const before = Number(await one('sample_c', 'SELECT count(*) FROM shop.events'));
      await cluster.psql(
        'sample_c',
        `UPDATE shop.orders SET status = 'refunded' WHERE id = 1 AND status <> 'refunded'`,
      );
      expect(Number(await one('sample_c', 'SELECT count(*) FROM shop.events'))).toBe(before + 1);
    },
    T,
  );
});
