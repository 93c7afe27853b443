/**
 * What a drill proves beyond row counts, read in one session (the backup's exported snapshot, or
 * the restored database): per table the exact row count and an order-independent content
 * fingerprint, sequences, large objects, materialized views, NOT VALID constraints, invalid
 * indexes and trigger states. Plain SELECTs only (ACCESS SHARE locks, which never block writers);
 * the caller runs them inside its savepoint and under its `lock_timeout`.
 *
 * Fingerprint of a table: `sum(h(ROW(r.*)::text))` over its rows, as an exact decimal (numeric),
 * where `h` is a 64-bit signed hash of the row's text output (record_out):
 * - `sum-hashtextextended`: `hashtextextended(text, 0)` (PostgreSQL 11+);
 * - `sum-md5-64`: the first 64 bits of `md5(text)` as a signed bigint (older servers).
 * A sum, not an xor: two equal rows add up instead of cancelling; physical order does not matter.
 * The row's text depends on the session settings pinned in {@link PINNED_SETTINGS}.
 * (PostgreSQL docs: 9.4 String Functions, 9.28 System Administration Functions, 8.16 Composite Types.)
 */
import type pg from 'pg';
import { notExtensionMember, USER_NAMESPACE } from './inspect-sql.js';

/** How table (and large object) fingerprints were computed; the drill recomputes with the same one. */
export type FingerprintAlgorithm = 'sum-hashtextextended' | 'sum-md5-64';

/**
 * Session settings the output functions read (record_out calls each column's output function):
 * dates and times (DateStyle, IntervalStyle, TimeZone for timestamptz), floats (extra_float_digits,
 * also geometric types), bytea (bytea_output), money (lc_monetary), reg* types (search_path: names
 * are schema-qualified unless visible). Pinned in every snapshot session, backup and drill alike.
 */
export const PINNED_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  TimeZone: 'UTC',
  extra_float_digits: '3',
  bytea_output: 'hex',
  lc_monetary: 'C',
  search_path: 'pg_catalog',
};

/** The algorithm a server can compute: hashtextextended exists from PostgreSQL 11 (server_version_num 110000). */
export function algorithmFor(versionNum: number): FingerprintAlgorithm {
  return versionNum >= 110_000 ? 'sum-hashtextextended' : 'sum-md5-64';
}

/** SQL: the 64-bit hash of text expression `expr`, as numeric, with `algorithm`. */
export function hashSql(algorithm: FingerprintAlgorithm, expr: string): string {
  return algorithm === 'sum-hashtextextended'
    ? `pg_catalog.hashtextextended(${expr}, 0)::pg_catalog.numeric`
    : `(('x' || pg_catalog.substr(pg_catalog.md5(${expr}), 1, 16))::pg_catalog.bit(64)::pg_catalog.int8)::pg_catalog.numeric`;
}

/**
 * SQL: row count and fingerprint of table `qualified` (already quoted), in one scan. count and sum
 * are unqualified (the session's search_path is pinned to pg_catalog) so that the text starts as
 * the plain count's does, for whoever watches pg_stat_activity.
 */
export function tableFingerprintSql(algorithm: FingerprintAlgorithm, qualified: string): string {
  return `SELECT count(*) AS n, coalesce(sum(${hashSql(algorithm, 'ROW(r.*)::pg_catalog.text')}), 0)::pg_catalog.text AS fp FROM ONLY ${qualified} r`;
}

/** One table's exact row count and fingerprint (a decimal integer, possibly negative, as text). */
export interface TableContent {
  schema: string;
  table: string;
  rows: number;
  fingerprint: string;
}

/** A sequence's state (`SELECT last_value, is_called FROM seq`); `lastValue` is a bigint as decimal text. */
export interface SequenceValue {
  lastValue: string;
  isCalled: boolean;
}

/** A sequence's state read right before pg_dump started and right after it ended (equal when quiet). */
export interface SequenceBounds {
  schema: string;
  name: string;
  before: SequenceValue;
  after: SequenceValue;
}

/**
 * Large objects: how many, and the sum of `h(oid || ':' || md5(lo_get(oid)))`; with at most
 * {@link LARGE_OBJECTS_LISTED} objects, each one's oid and md5 (`objects`); `count` and
 * `fingerprint` null with `reason` when the role cannot read them (e.g. permission denied).
 */
export type LargeObjectsContent =
  | { count: number; fingerprint: string; objects?: { oid: number; md5: string }[] }
  | { count: null; fingerprint: null; reason: string };

/** The cheap part of the content record: catalog states and sequences. */
export interface CatalogState {
  /** Materialized views and whether they are populated (pg_class.relispopulated). */
  matviews: { schema: string; name: string; populated: boolean }[];
  /** Constraints with convalidated = false, as `schema.relation.constraint` (relation: table or domain). */
  notValidConstraints: string[];
  /** Indexes with indisvalid = false, as `schema.index` (pg_dump does not dump them). */
  invalidIndexes: string[];
  /** Non-internal triggers with pg_trigger.tgenabled (O origin, D disabled, R replica, A always). */
  triggers: { schema: string; table: string; name: string; enabled: string }[];
  /** Event triggers with pg_event_trigger.evtenabled. */
  eventTriggers: { name: string; enabled: string }[];
  /**
   * Columns set to `COMPRESSION lz4` (pg_attribute.attcompression = 'l', PostgreSQL 14+), as
   * `schema.table.column`: pg_dump writes `SET COMPRESSION lz4` for them, which a server built
   * without lz4 refuses. Absent in manifests written before it was recorded.
   */
  lz4Columns?: string[];
}

/** What a snapshot session reads for the content record (inspect.ts implements it, each call in its savepoint). */
export interface ContentReader {
  /**
   * The tables of `rowCounts('exact')`, each read in ONE scan giving its exact row count and its
   * content fingerprint (postgres/fingerprint.ts). A failure throws as a failed count does.
   * @throws DumpError naming the table (lock waits marked as such).
   */
  tableContents(algorithm: FingerprintAlgorithm): Promise<TableContent[]>;
  /** Every readable user sequence's current `last_value`/`is_called` (not transactional: read now). */
  sequences(): Promise<{ schema: string; name: string; value: SequenceValue }[]>;
  /** Large objects' count and fingerprint in the snapshot; null ones with the reason when they cannot be read. */
  largeObjects(algorithm: FingerprintAlgorithm): Promise<LargeObjectsContent>;
  /** Materialized views, NOT VALID constraints, invalid indexes, trigger states, in the snapshot. */
  catalogState(): Promise<CatalogState>;
}

type Query = Pick<pg.Client, 'query' | 'escapeIdentifier'>;

/** Any connection that answers a query with its rows (node-pg's Client, a drill's target). */
interface RowsQuery {
  query<R extends Record<string, unknown>>(sql: string): Promise<{ rows: R[] }>;
}

const USER_NS = USER_NAMESPACE;
const NOT_EXT = notExtensionMember;

const SEQUENCES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'S' AND ${USER_NS} AND ${NOT_EXT('c.oid', 'pg_catalog.pg_class')}
    AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
  ORDER BY 1, 2`;

const MATVIEWS_SQL = `
  SELECT n.nspname AS schema, c.relname AS name, c.relispopulated AS populated FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'm' AND ${USER_NS} AND ${NOT_EXT('c.oid', 'pg_catalog.pg_class')} ORDER BY 1, 2`;

const NOT_VALID_SQL = `
  SELECT n.nspname AS schema, coalesce(c.relname, t.typname) AS rel, k.conname AS name
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
  WHERE NOT k.convalidated AND ${USER_NS} ORDER BY 1, 2, 3`;

const INVALID_INDEXES_SQL = `
  SELECT n.nspname AS schema, i.relname AS name FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
  WHERE NOT x.indisvalid AND ${USER_NS} ORDER BY 1, 2`;

/** Needs PostgreSQL 14+ (attcompression). */
const LZ4_COLUMNS_SQL = `
  SELECT n.nspname || '.' || c.relname || '.' || a.attname AS name FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE a.attcompression = 'l' AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm')
    AND ${USER_NS} ORDER BY 1`;

const TRIGGERS_SQL = `
  SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name, t.tgenabled::text AS enabled
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT t.tgisinternal AND ${USER_NS} AND ${NOT_EXT('c.oid', 'pg_catalog.pg_class')} ORDER BY 1, 2, 3`;

const EVENT_TRIGGERS_SQL = `
  SELECT e.evtname AS name, e.evtenabled::text AS enabled FROM pg_catalog.pg_event_trigger e
  WHERE ${NOT_EXT('e.oid', 'pg_catalog.pg_event_trigger')} ORDER BY 1`;

/** How many sequences one UNION ALL query reads. */
const SEQUENCE_BATCH = 200;

/** Every readable user sequence's `last_value`/`is_called`, sorted by schema then name. */
export async function readSequences(client: Query): Promise<{ schema: string; name: string; value: SequenceValue }[]> {
  const list = (await client.query<{ schema: string; name: string }>(SEQUENCES_SQL)).rows;
  const out: { schema: string; name: string; value: SequenceValue }[] = [];
  for (let i = 0; i < list.length; i += SEQUENCE_BATCH) {
    const batch = list.slice(i, i + SEQUENCE_BATCH);
    const sql = batch
      .map(
        (s, j) =>
          `SELECT ${j} AS i, last_value::pg_catalog.text AS v, is_called AS c FROM ${client.escapeIdentifier(s.schema)}.${client.escapeIdentifier(s.name)}`,
      )
      .join(' UNION ALL ');
    const rows = (await client.query<{ i: number; v: string; c: boolean }>(sql)).rows;
    for (const r of rows) {
      const s = batch[r.i] as { schema: string; name: string };
      out.push({ schema: s.schema, name: s.name, value: { lastValue: r.v, isCalled: r.c } });
    }
  }
  return out.sort((a, b) => compare(a.schema, b.schema) || compare(a.name, b.name));
}

/** Large objects listed one by one in the manifest at most (above, only the count and fingerprint). */
export const LARGE_OBJECTS_LISTED = 1000;

/**
 * Large objects' count and fingerprint: the sum of `h(oid || ':' || md5(data))`, summed here as a
 * BigInt (the same exact decimal as the tables' numeric sums); with at most
 * {@link LARGE_OBJECTS_LISTED} objects, each one's oid and md5 too, so a drill names the one that
 * differs. lo_get reads each object in the transaction's snapshot and needs SELECT on it (unless
 * lo_compat_privileges); an error is rethrown for the caller (it runs inside its savepoint).
 * Each object is read whole into the server's memory (lo_get; at most 1 GB each).
 */
export async function readLargeObjects(
  client: Query,
  algorithm: FingerprintAlgorithm,
): Promise<{ count: number; fingerprint: string; objects?: { oid: number; md5: string }[] }> {
  const rows = (
    await client.query<{ oid: string; md5: string; h: string }>(
      `SELECT m.oid::pg_catalog.int8::pg_catalog.text AS oid, x.md5, (${hashSql(algorithm, `m.oid::pg_catalog.text || ':' || x.md5`)})::pg_catalog.text AS h
       FROM pg_catalog.pg_largeobject_metadata m, LATERAL (SELECT pg_catalog.md5(pg_catalog.lo_get(m.oid)) AS md5) x
       ORDER BY m.oid`,
    )
  ).rows;
  const sum = rows.reduce((acc, r) => acc + BigInt(r.h), 0n);
  const out = { count: rows.length, fingerprint: sum.toString() };
  return rows.length <= LARGE_OBJECTS_LISTED
    ? { ...out, objects: rows.map((r) => ({ oid: Number(r.oid), md5: r.md5 })) }
    : out;
}

/**
 * NOT VALID constraints of user schemas as `schema.table.name` (a domain's: `schema.type.name`),
 * sorted; pg_constraint.convalidated. Read at backup (the manifest) and after a drill's restore.
 */
export async function readNotValidConstraints(client: RowsQuery): Promise<string[]> {
  const rows = (await client.query<{ schema: string; rel: string; name: string }>(NOT_VALID_SQL)).rows;
  return rows.map((r) => `${r.schema}.${r.rel}.${r.name}`);
}

/** Invalid indexes of user schemas (pg_index.indisvalid false) as `schema.index`, sorted. */
export async function readInvalidIndexes(client: RowsQuery): Promise<string[]> {
  const rows = (await client.query<{ schema: string; name: string }>(INVALID_INDEXES_SQL)).rows;
  return rows.map((r) => `${r.schema}.${r.name}`);
}

/** Materialized views, NOT VALID constraints, invalid indexes, trigger and event trigger states. */
export async function readCatalogState(client: Query): Promise<CatalogState> {
  const matviews = (await client.query<{ schema: string; name: string; populated: boolean }>(MATVIEWS_SQL)).rows;
  const notValidConstraints = await readNotValidConstraints(client);
  const invalidIndexes = await readInvalidIndexes(client);
  const triggers = (await client.query<{ schema: string; table: string; name: string; enabled: string }>(TRIGGERS_SQL))
    .rows;
  const events = (await client.query<{ name: string; enabled: string }>(EVENT_TRIGGERS_SQL)).rows;
  const version = (await client.query<{ num: string }>(`SELECT current_setting('server_version_num') AS num`)).rows;
  const lz4 = Number(version[0]?.num) >= 140000 ? (await client.query<{ name: string }>(LZ4_COLUMNS_SQL)).rows : [];
  return {
    matviews: matviews.map((m) => ({ schema: m.schema, name: m.name, populated: m.populated })),
    notValidConstraints,
    invalidIndexes,
    triggers: triggers.map((t) => ({ schema: t.schema, table: t.table, name: t.name, enabled: t.enabled })),
    eventTriggers: events.map((e) => ({ name: e.name, enabled: e.enabled })),
    lz4Columns: lz4.map((r) => r.name),
  };
}

/** Code-unit order, independent of the server's collation. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
