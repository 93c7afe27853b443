/**
 * Reading a restored database for a drill: what {@link verifyDrill} compares (row and object
 * counts, unvalidated constraints, invalid indexes, ancestors, unlogged tables, `drill-sql`
 * results), and the verdict with one log line per check.
 */
import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import type { ContentRecord, Manifest } from '../manifest.js';
import { algorithmFor, readInvalidIndexes, readNotValidConstraints } from '../postgres/fingerprint.js';
import type { DatabaseInspector, SnapshotSession } from '../postgres/inspect.js';
import type { Connection } from '../postgres/types.js';
import { openTarget, type TargetAccess, type TargetDb } from './target.js';
import {
  judgeSqlResult,
  shorten,
  verifyDrill,
  withCategory,
  type CategoryResult,
  type RestoredContent,
  type RestoredState,
  type SqlOutcome,
  type Verdict,
} from './verify.js';

/** What reading the restored database needs: the inspector, the target access and a log. */
export interface RestoredAccess extends TargetAccess {
  log: Log;
  connect(connection: Connection): Promise<DatabaseInspector>;
}

/**
 * Reads the restored database `target` and compares it with the manifest ({@link verifyDrill}),
 * adding the `extra` categories checked elsewhere (the database's own properties); logs the
 * verdict ({@link logVerdict}).
 */
export async function verifyRestored(
  deps: RestoredAccess,
  target: Connection,
  manifest: Manifest,
  drillSql: string[],
  extra: CategoryResult[] = [],
): Promise<Verdict> {
  const { log } = deps;
  const state = await readRestoredState(deps, target, drillSql, manifest);
  const v = extra.reduce(withCategory, verifyDrill(manifest, state));
  logVerdict(log, v);
  return v;
}

/**
 * The verdict in the log, compactly: one line per category (`PASS tables: 23 checks — 23 tables
 * content-identical (…)`), then one warning per failed check naming the object, then what was not checked.
 */
export function logVerdict(log: Log, v: Verdict): void {
  for (const c of v.categories) {
    if (c.checks.length === 0) continue;
    const failed = c.checks.filter((check) => !check.passed);
    const what = failed.length === 0 ? (c.proven ?? 'passed') : `${failed.length} failed`;
    const line = `${failed.length === 0 ? 'PASS' : 'FAIL'} ${c.name}: ${c.checks.length} checks, ${what}`;
    if (failed.length === 0) log.info(line);
    else log.warning(line);
    for (const check of failed)
      log.warning(
        `FAIL ${check.name}: expected ${check.expected}, actual ${check.actual}${check.note ? ` (${check.note})` : ''}`,
      );
  }
  for (const note of v.skipped) log.info(`Not checked: ${note}`);
}

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

/**
 * Reads what {@link verifyDrill} compares: counts via the inspector, the rest with SQL; with a
 * manifest whose `content` is recorded, the same content read in one snapshot session (tables in
 * one scan each, fingerprinted with the manifest's algorithm; settings pinned as at backup).
 */
export async function readRestoredState(
  deps: RestoredAccess,
  target: Connection,
  drillSql: string[],
  manifest?: Manifest,
): Promise<RestoredState> {
  const inspector = await deps.connect(target);
  let tables: RestoredState['tables'];
  let objects: RestoredState['objects'];
  let content: RestoredContent | undefined;
  try {
    const session = await inspector.openSnapshot();
    try {
      const record = manifest?.content;
      if (record) {
        content = await readContent(inspector, session, record);
        tables = (content.tables ?? (await session.rowCounts('exact'))).map((t) => ({ ...t }));
        objects = await session.catalogCounts();
      } else {
        [tables, objects] = await Promise.all([session.rowCounts('exact'), session.catalogCounts()]);
      }
    } finally {
      await session.close();
    }
  } finally {
    await inspector.close();
  }
  const db = await (deps.connectTarget ?? openTarget)(target);
  try {
    const notValidated = await readNotValidConstraints(db);
    const invalidIndexes = await readInvalidIndexes(db);
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
    return {
      tables: tables.map((t) => ({ schema: t.schema, table: t.table, rows: t.rows })),
      objects,
      notValidatedConstraints: notValidated,
      invalidIndexes,
      ancestors,
      unlogged,
      sql,
      ...(content ? { content } : {}),
    };
  } finally {
    await db.close();
  }
}

/**
 * The restored database's content: fingerprints with the record's algorithm when this server has
 * it, and only of what the record has (no table scan when it holds no table fingerprints).
 */
async function readContent(
  inspector: DatabaseInspector,
  session: SnapshotSession,
  record: ContentRecord,
): Promise<RestoredContent> {
  const { algorithm } = record;
  const { versionNum } = await inspector.serverInfo();
  const usable = algorithm === 'sum-md5-64' || algorithmFor(versionNum) === algorithm;
  const tables = usable && record.tables ? await session.tableContents(algorithm) : null;
  const sequences = await session.sequences();
  const largeObjects =
    usable && record.largeObjects.count !== null
      ? await session.largeObjects(algorithm)
      : {
          count: null,
          fingerprint: null,
          reason: usable ? 'not recorded at backup' : `this server has no ${algorithm}`,
        };
  const catalog = await session.catalogState();
  return { serverVersionNum: versionNum, tables, sequences, largeObjects, catalog };
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
