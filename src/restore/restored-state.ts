/**
 * Reading a restored database for a drill: what {@link verifyDrill} compares (row and object
 * counts, unvalidated constraints, invalid indexes, ancestors, unlogged tables, `drill-sql`
 * results), and the verdict with one log line per check.
 */
import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import type { Manifest } from '../manifest.js';
import type { DatabaseInspector } from '../postgres/inspect.js';
import type { Connection } from '../postgres/types.js';
import { openTarget, type TargetAccess, type TargetDb } from './target.js';
import { judgeSqlResult, shorten, verifyDrill, type RestoredState, type SqlOutcome, type Verdict } from './verify.js';

/** What reading the restored database needs: the inspector, the target access and a log. */
export interface RestoredAccess extends TargetAccess {
  log: Log;
  connect(connection: Connection): Promise<DatabaseInspector>;
}

/**
 * Reads the restored database `target` and compares it with the manifest ({@link verifyDrill});
 * logs each check as `PASS`/`FAIL` (failures as warnings) and what was not checked.
 */
export async function verifyRestored(
  deps: RestoredAccess,
  target: Connection,
  manifest: Manifest,
  drillSql: string[],
): Promise<Verdict> {
  const { log } = deps;
  const state = await readRestoredState(deps, target, drillSql);
  const v = verifyDrill(manifest, state);
  for (const check of v.checks) {
    const line = `${check.passed ? 'PASS' : 'FAIL'} ${check.name}: expected ${check.expected}, actual ${check.actual}${check.note ? ` (${check.note})` : ''}`;
    if (check.passed) log.info(line);
    else log.warning(line);
  }
  for (const note of v.skipped) log.info(`Not checked: ${note}`);
  return v;
}

const NOT_VALIDATED_SQL = `
  SELECT n.nspname AS schema, coalesce(c.relname, t.typname) AS rel, k.conname AS name
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
  WHERE NOT k.convalidated AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  ORDER BY 1, 2, 3`;

const INVALID_INDEXES_SQL = `
  SELECT n.nspname AS schema, i.relname AS name
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
  WHERE NOT x.indisvalid AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  ORDER BY 1, 2`;

const ANCESTORS_SQL = `
  WITH RECURSIVE up(child, parent) AS (
    SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits
    UNION
    SELECT up.child, i.inhparent FROM up JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.parent
  )
  SELECT cn.nspname AS schema, c.relname AS name, pn.nspname AS parent_schema, p.relname AS parent
  FROM up
  JOIN pg_catalog.pg_class c ON c.oid = up.child JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
  JOIN pg_catalog.pg_class p ON p.oid = up.parent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace`;

const UNLOGGED_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND c.relpersistence = 'u'`;

/** Reads what {@link verifyDrill} compares: counts via the inspector, the rest with SQL. */
export async function readRestoredState(
  deps: RestoredAccess,
  target: Connection,
  drillSql: string[],
): Promise<RestoredState> {
  const inspector = await deps.connect(target);
  let tables: RestoredState['tables'];
  let objects: RestoredState['objects'];
  try {
    const session = await inspector.openSnapshot();
    try {
      [tables, objects] = await Promise.all([session.rowCounts('exact'), session.catalogCounts()]);
    } finally {
      await session.close();
    }
  } finally {
    await inspector.close();
  }
  const db = await (deps.connectTarget ?? openTarget)(target);
  try {
    const notValidated = (await db.query<{ schema: string; rel: string; name: string }>(NOT_VALIDATED_SQL)).rows.map(
      (r) => `${r.schema}.${r.rel}.${r.name}`,
    );
    const invalidIndexes = (await db.query<{ schema: string; name: string }>(INVALID_INDEXES_SQL)).rows.map(
      (r) => `${r.schema}.${r.name}`,
    );
    const ancestors: Record<string, string[]> = {};
    for (const r of (
      await db.query<{ schema: string; name: string; parent_schema: string; parent: string }>(ANCESTORS_SQL)
    ).rows) {
      (ancestors[`${r.schema}.${r.name}`] ??= []).push(`${r.parent_schema}.${r.parent}`);
    }
    const unlogged = (await db.query<{ schema: string; name: string }>(UNLOGGED_SQL)).rows.map(
      (r) => `${r.schema}.${r.name}`,
    );
    const sql: SqlOutcome[] = [];
    for (const query of drillSql) sql.push(await runAssertion(db, query));
    return { tables, objects, notValidatedConstraints: notValidated, invalidIndexes, ancestors, unlogged, sql };
  } finally {
    await db.close();
  }
}

/**
 * Runs one `drill-sql` query in a READ ONLY transaction (rolled back), with the extended protocol
 * so one query is exactly one statement.
 */
async function runAssertion(db: TargetDb, query: string): Promise<SqlOutcome> {
  try {
    await db.query('BEGIN READ ONLY');
    const { rows, fieldCount } = await db.query(query, []);
    return judgeSqlResult(query, rows, fieldCount);
  } catch (error) {
    return { query, passed: false, actual: `error: ${shorten(errorMessage(error), 120)}` };
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
  }
}
