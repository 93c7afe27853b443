/**
 * A strict comparison of two databases of one cluster (a source and its restore), computed
 * independently of the product's code: the normalized `pg_dump --schema-only` texts, a content hash
 * of every table and populated materialized view, sequence states, large objects, and the
 * databases' own properties (pg_database, comment, settings, per-role settings).
 * @returns one line per difference, naming the object; [] when the databases are identical.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from './pg-cluster.js';

const run = promisify(execFile);

/** `pg_dump --schema-only` without comments, SET lines, `\restrict` lines and blank lines. */
export async function normalizedSchema(cluster: Cluster, db: string): Promise<string[]> {
  const { stdout } = await run(
    path.join(cluster.binDir, 'pg_dump'),
    ['--schema-only', '-h', cluster.socketDir, '-p', String(cluster.port), '-U', 'postgres', '-d', db],
    { maxBuffer: 1 << 26 },
  );
  return stdout
    .split('\n')
    .filter(
      (l) =>
        l.trim() !== '' && !l.startsWith('--') && !/^(SET |SELECT pg_catalog\.set_config|\\(un)?restrict )/.test(l),
    );
}

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`;

/** Lines `name<TAB>value` of a query built from the catalog, as a map. */
async function keyed(cluster: Cluster, db: string, sql: string): Promise<Map<string, string>> {
  const out = await cluster.psql(db, sql);
  return new Map(
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const tab = l.indexOf('|');
        return [l.slice(0, tab), l.slice(tab + 1)] as [string, string];
      }),
  );
}

/** `schema.table|rows:md5` for every table (ONLY, partitions individually) and populated matview. */
export async function contentHashes(cluster: Cluster, db: string): Promise<Map<string, string>> {
  const relations = await cluster.psql(
    db,
    `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'm') AND c.relispopulated AND ${USER_SCHEMAS} ORDER BY 1`,
  );
  const names = relations.split('\n').filter((l) => l !== '');
  if (names.length === 0) return new Map();
  const sql = names
    .map(
      (r) =>
        `SELECT ${quote(r)} || '|' || count(*) || ':' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C"), '')) FROM ONLY ${r} t`,
    )
    .join(' UNION ALL ');
  return keyed(cluster, db, sql);
}

function quote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** `schema.sequence|last_value,is_called`. */
export async function sequenceStates(cluster: Cluster, db: string): Promise<Map<string, string>> {
  const seqs = (
    await cluster.psql(
      db,
      `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND ${USER_SCHEMAS} ORDER BY 1`,
    )
  )
    .split('\n')
    .filter((l) => l !== '');
  if (seqs.length === 0) return new Map();
  return keyed(
    cluster,
    db,
    seqs.map((s) => `SELECT ${quote(s)} || '|' || last_value || ',' || is_called FROM ${s}`).join(' UNION ALL '),
  );
}

/** `large object <oid>|owner,md5`. */
export async function largeObjects(cluster: Cluster, db: string): Promise<Map<string, string>> {
  return keyed(
    cluster,
    db,
    `SELECT 'large object ' || oid || '|' || pg_get_userbyid(lomowner) || ',' || md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid`,
  );
}

/** The database's own properties, as `property|value` (names and values straight from the catalogs). */
export async function databaseProperties(cluster: Cluster, db: string): Promise<Map<string, string>> {
  return keyed(
    cluster,
    db,
    `SELECT 'database ' || key || '|' || coalesce(value::text, 'null') FROM pg_database d,
       jsonb_each(to_jsonb(d) - '{oid,datname,datdba,datfrozenxid,datminmxid,datlastsysoid,dattablespace}'::text[]) AS e(key, value)
       WHERE d.datname = current_database()
     UNION ALL SELECT 'database owner|' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()
     UNION ALL SELECT 'database comment|' || coalesce(shobj_description(oid, 'pg_database'), 'null') FROM pg_database WHERE datname = current_database()
     UNION ALL SELECT 'database settings of ' || coalesce(nullif(setrole, 0)::regrole::text, 'the database') || '|' || array_to_string(ARRAY(SELECT unnest(setconfig) ORDER BY 1), ';')
       FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
}

function diffMaps(kind: string, a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) {
    if (!b.has(k)) out.push(`${kind}: ${k} missing in the restored database`);
    else if (b.get(k) !== v) out.push(`${kind}: ${k} differs: ${v} ≠ ${b.get(k) as string}`);
  }
  for (const k of b.keys()) if (!a.has(k)) out.push(`${kind}: ${k} only in the restored database`);
  return out;
}

/** Differences between the schema texts, as `schema: -line` / `schema: +line` (the first 20). */
function diffLines(a: string[], b: string[]): string[] {
  const count = (lines: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  const out: string[] = [];
  for (const [l, n] of ca) if ((cb.get(l) ?? 0) < n) out.push(`schema: -${l}`);
  for (const [l, n] of cb) if ((ca.get(l) ?? 0) < n) out.push(`schema: +${l}`);
  if (out.length === 0 && a.join('\n') !== b.join('\n')) out.push('schema: same lines in another order');
  return out.slice(0, 20);
}

/** Every difference between `source` and `restored` (both on `cluster`); [] when identical. */
export async function compareDatabases(cluster: Cluster, source: string, restored: string): Promise<string[]> {
  const [sa, sb] = await Promise.all([normalizedSchema(cluster, source), normalizedSchema(cluster, restored)]);
  const out = diffLines(sa, sb);
  for (const [kind, read] of [
    ['table', contentHashes],
    ['sequence', sequenceStates],
    ['large objects', largeObjects],
    ['properties', databaseProperties],
  ] as const) {
    out.push(...diffMaps(kind, await read(cluster, source), await read(cluster, restored)));
  }
  return out;
}
