/**
 * The target server of restore and drill: a node-pg connection with libpq's sslmode semantics, the
 * maintenance connection for CREATE/DROP DATABASE, and the questions asked before touching the
 * target (user tables, inherited constraints), with the message that refuses a non-empty one, and
 * a drill's scratch database.
 */
import pg from 'pg';
import { ConfigError, ConnectionError, errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import { connectClient } from '../postgres/inspect.js';
import type { Connection } from '../postgres/types.js';

/** A node-pg connection to the target server. */
export interface TargetDb {
  query<T extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    values?: unknown[],
  ): Promise<{ rows: T[]; fieldCount: number }>;
  close(): Promise<void>;
}

/** How the target server is reached: `connectTarget` when given (tests), else {@link openTarget}. */
export interface TargetAccess {
  /** SQL access to the target server (default: {@link openTarget}). */
  connectTarget?: (connection: Connection) => Promise<TargetDb>;
  /**
   * Asks a person whether to use a target that already has user tables, when `confirm` does not
   * name it (the CLI on a TTY); absent, `confirm` alone decides.
   */
  confirmOverwrite?: (question: string) => Promise<boolean>;
}

/**
 * True when `target` (with `tables` user tables) may be used: `confirm` names it, or a person said
 * yes to `question`. Pure apart from the question.
 */
export async function overwriteConfirmed(
  deps: TargetAccess,
  target: Connection,
  confirm: string | undefined,
  question: string,
): Promise<boolean> {
  if (confirm === target.database) return true;
  return (await deps.confirmOverwrite?.(question)) ?? false;
}

/** True when a ConnectionError was caused by a missing database (SQLSTATE 3D000). */
export function isMissingDatabase(error: unknown): boolean {
  return (error as { cause?: { code?: unknown } } | null)?.cause?.code === '3D000';
}

/**
 * Connects with libpq's sslmode semantics (retrying without TLS for allow/prefer/unset when the
 * server refuses it), like the inspector does.
 * @throws ConnectionError with the classified message; its `cause` keeps the driver's error.
 */
export async function openTarget(conn: Connection): Promise<TargetDb> {
  let client: pg.Client;
  try {
    client = await connectClient(conn);
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    throw new ConnectionError(
      error.message.replace('Check the database name in the connection inputs', 'Check the target database name'),
      { cause: error.cause },
    );
  }
  return {
    async query<T extends Record<string, unknown>>(sql: string, values?: unknown[]) {
      const result = await client.query<T>(values === undefined ? sql : { text: sql, values });
      return { rows: result.rows, fieldCount: result.fields?.length ?? 0 };
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

/** `DROP DATABASE IF EXISTS`, with `WITH (FORCE)` from PostgreSQL 13 on (ends leftover sessions). */
export function dropDatabaseSql(database: string, versionNum: number): string {
  return `DROP DATABASE IF EXISTS ${quoteIdent(database)}${versionNum >= 130000 ? ' WITH (FORCE)' : ''}`;
}

/**
 * Drops `target.database` through the maintenance database (a drill's scratch database, or one a
 * failed restore created). Never throws.
 * @returns undefined once dropped, else why it could not be.
 */
export async function dropDatabase(deps: TargetAccess, target: Connection): Promise<string | undefined> {
  try {
    await withMaintenance(deps, target, (db, versionNum) => db.query(dropDatabaseSql(target.database, versionNum)));
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/** `"name"` with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Runs `fn` on a maintenance connection (database `postgres`, else `template1`) of the target's
 * server with the target's credentials: for CREATE/DROP DATABASE.
 */
export async function withMaintenance<T>(
  deps: TargetAccess,
  target: Connection,
  fn: (db: TargetDb, serverVersionNum: number) => Promise<T>,
): Promise<T> {
  const connect = deps.connectTarget ?? openTarget;
  let db: TargetDb;
  try {
    db = await connect({ ...target, database: 'postgres' });
  } catch (error) {
    if (!isMissingDatabase(error)) throw error;
    db = await connect({ ...target, database: 'template1' });
  }
  try {
    const { rows } = await db.query<{ num: string }>(`SELECT current_setting('server_version_num') AS num`);
    return await fn(db, Number(rows[0]?.num));
  } finally {
    await db.close();
  }
}

/** SQL: user tables (plain and partitioned, extension members excluded) of the current database. */
const USER_TABLE_COUNT_SQL = `
  SELECT count(*)::int AS n FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/** Number of user tables in the target database. */
export async function userTableCount(deps: TargetAccess, target: Connection): Promise<number> {
  const db = await (deps.connectTarget ?? openTarget)(target);
  try {
    const { rows } = await db.query<{ n: number }>(USER_TABLE_COUNT_SQL);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await db.close();
  }
}

/**
 * Constraints of partitions that are attached to a partitioned table's primary key, unique or
 * exclusion constraint (`conparentid <> 0`, PostgreSQL 11+), as `schema.table.constraint`:
 * `pg_restore --clean` emits a DROP for each and fails on them.
 */
export async function inheritedIndexConstraints(deps: TargetAccess, target: Connection): Promise<string[]> {
  const db = await (deps.connectTarget ?? openTarget)(target);
  try {
    const { rows: version } = await db.query<{ num: string }>(`SELECT current_setting('server_version_num') AS num`);
    if (Number(version[0]?.num) < 110000) return [];
    const { rows } = await db.query<{ name: string }>(
      `SELECT n.nspname || '.' || c.relname || '.' || k.conname AS name FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE k.conparentid <> 0 AND k.contype IN ('p', 'u', 'x') ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  } finally {
    await db.close();
  }
}

/** The message when a non-empty target is used without `confirm`. */
export function confirmMessage(target: Connection, tables: number, command: 'restore' | 'drill'): string {
  const name = target.database;
  return command === 'restore'
    ? `the target database '${name}' on ${target.host}:${target.port} already has ${tables} user table(s); nothing was touched. To restore into it anyway set confirm: ${name} (with clean: true to drop the archive's objects first), or restore into a new database with create-database: true.`
    : `the scratch database '${name}' on ${target.host}:${target.port} already has ${tables} user table(s); nothing was touched. A drill drops and recreates it: set confirm: ${name} if that is what you want, or use a new name (it is created).`;
}

/** What the scratch database helpers of a drill need: the target access and a log. */
export interface ScratchAccess extends TargetAccess {
  log: Log;
}

/**
 * Makes `target` an empty database: created when missing; an existing one with user tables is
 * dropped and recreated only when `confirm` equals its name. `create` issues the CREATE DATABASE
 * on the maintenance connection (default: a bare one from template0).
 * @returns true when this call created the database, false when an existing empty one is used.
 * @throws ConfigError('confirm') before touching anything; what `create` throws.
 */
export async function prepareScratch(
  deps: ScratchAccess,
  target: Connection,
  confirm: string | undefined,
  create: (db: TargetDb) => Promise<unknown> = (db) =>
    db.query(`CREATE DATABASE ${quoteIdent(target.database)} TEMPLATE template0`),
): Promise<boolean> {
  const { log } = deps;
  return withMaintenance(deps, target, async (db, versionNum) => {
    const { rows } = await db.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [target.database]);
    if (rows.length > 0) {
      const tables = await userTableCount(deps, target);
      if (tables === 0) {
        log.info(`Using the existing, empty database '${target.database}'; its own properties are kept as they are.`);
        return false;
      }
      const question = `The scratch database '${target.database}' on ${target.host}:${target.port} has ${tables} user table(s). Drop and recreate it for the drill?`;
      if (!(await overwriteConfirmed(deps, target, confirm, question)))
        throw new ConfigError('confirm', confirmMessage(target, tables, 'drill'));
      await db.query(dropDatabaseSql(target.database, versionNum));
      log.info(`Dropped '${target.database}' (${tables} user tables; confirmed).`);
    }
    await create(db);
    log.info(`Created scratch database '${target.database}' on ${target.host}:${target.port}.`);
    return true;
  });
}

/** Drops the scratch database; a failure is a warning (the drill's verdict stands). */
export async function dropScratch(deps: ScratchAccess, target: Connection): Promise<boolean> {
  const failed = await dropDatabase(deps, target);
  if (failed) deps.log.warning(`Could not drop the scratch database '${target.database}': ${failed}. Drop it by hand.`);
  else deps.log.info(`Dropped scratch database '${target.database}'.`);
  return !failed;
}
