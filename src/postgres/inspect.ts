/**
 * Looks at the source database with the node `pg` driver: server version and size, and — inside
 * an exported snapshot that pg_dump then imports with `--snapshot` — per-table row counts and
 * counts of user objects, so the manifest describes exactly the data in the archive.
 */
import pg from 'pg';
import { ConnectionError, DumpError } from '../errors.js';
import { classifyDriverError } from './classify.js';
import {
  PINNED_SETTINGS,
  readCatalogState,
  readLargeObjects,
  readSequences,
  tableFingerprintSql,
  type CatalogState,
  type ContentReader,
  type FingerprintAlgorithm,
  type LargeObjectsContent,
  type SequenceValue,
  type TableContent,
} from './fingerprint.js';
import { pgClientConfig, sslFallbackAllowed, withoutSsl } from './libpq.js';
import { markLockWait, readExclusiveHolders, watchLockWaits, type LockHolder, type OwnBackends } from './locks.js';
import { readDatabaseProperties, type DatabaseProperties } from './database-properties.js';
import { CATALOG_COUNTS_SQL, USER_TABLES_SQL } from './inspect-sql.js';
import { namePatternRegexes, PATTERN_MATCH_SQL } from './patterns.js';
import type { Connection } from './types.js';

export interface ServerInfo {
  /** server_version_num, e.g. 150018. */
  versionNum: number;
  /** Major version: 15 for 150018; 9.6 for 90624 (two-part majors before 10). */
  major: number;
  /** `SHOW server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)". */
  version: string;
  databaseSizeBytes: number;
}

export interface CatalogCounts {
  /** Ordinary tables (relkind r), partitions included. */
  tables: number;
  /** Partitioned tables (relkind p). */
  partitionedTables: number;
  /** Indexes, including partitioned indexes (relkind i and I). */
  indexes: number;
  /** pg_constraint rows on tables and domains (check, foreign key, primary key, unique, exclusion, trigger), not-null excluded. */
  constraints: number;
  views: number;
  materializedViews: number;
  /** pg_proc rows: functions, procedures, aggregates, window functions. */
  functions: number;
  sequences: number;
}

export interface TableRowCount {
  schema: string;
  table: string;
  rows: number;
}

/** The snapshot session; its content reads (tables with fingerprints, sequences, …) are in {@link ContentReader}. */
export interface SnapshotSession extends ContentReader {
  /** For `pg_dump --snapshot=<id>`; valid until close(). */
  readonly snapshotId: string;
  /** The session's backend pid (pg_backend_pid()), to find its lock waits. */
  readonly pid: number;
  /**
   * Rows of every user table (relkind r: plain tables and partitions; partitioned parents have no
   * rows of their own and are left out), sorted by schema then table.
   * - 'exact': `SELECT count(*) FROM ONLY <table>` in the snapshot, i.e. exactly what the dump holds.
   * - 'estimate': `pg_class.reltuples` (as of the last VACUUM/ANALYZE/CREATE INDEX). When it is not
   *   positive — never analyzed (-1 since PostgreSQL 14, 0 before) or analyzed empty — the
   *   statistics system's `pg_stat_user_tables.n_live_tup` is used instead, and 0 when that is
   *   missing too; never -1 or null. Estimates are not bound to the snapshot.
   */
  rowCounts(mode: 'exact' | 'estimate'): Promise<TableRowCount[]>;
  /** Counts of user objects (system schemas and extension members excluded), in the snapshot. */
  catalogCounts(): Promise<CatalogCounts>;
  /** Ends the transaction (the snapshot becomes invalid) and the connection. */
  close(): Promise<void>;
}

export interface SnapshotOptions {
  /**
   * The session's `lock_timeout` in milliseconds (the `lock-wait-timeout` input); 0 or unset waits
   * forever. A count that waits longer fails with SQLSTATE 55P03.
   */
  lockTimeoutMs?: number;
}

export interface DatabaseInspector {
  serverInfo(): Promise<ServerInfo>;
  /**
   * A second connection holding a REPEATABLE READ, READ ONLY transaction with an exported snapshot.
   * Like pg_dump's own sessions, it is immune to the role's statement_timeout,
   * idle_in_transaction_session_timeout, idle_session_timeout and transaction_timeout (all set to 0
   * for the session); its lock_timeout is `options.lockTimeoutMs`.
   */
  openSnapshot(options?: SnapshotOptions): Promise<SnapshotSession>;
  /**
   * Logs (through `log`) each lock wait of the backup's backends (pg_dump's and the counting
   * session) that lasts 30 s or more, naming the relation and the blocking backends, every 30 s
   * (locks.ts). Polls on this inspector's connection; never throws.
   */
  watchLocks(own: OwnBackends, log: (line: string) => void, suffix?: string): { stop(): Promise<void> };
  /** Backends holding or queued for ACCESS EXCLUSIVE on `relations` (`schema.table`), by relation. */
  exclusiveHolders(relations: string[]): Promise<Map<string, LockHolder[]>>;
  /** Closes the connection and any snapshot sessions still open. */
  close(): Promise<void>;
  /** The current database's own properties (database-properties.ts). Optional for test doubles. */
  databaseProperties?(): Promise<DatabaseProperties>;
  /**
   * The `schema`/`table` patterns (pg_dump's -n/-t, see postgres/patterns.ts) that match nothing in
   * this database, matched as pg_dump matches them; [] when all match. Optional for test doubles.
   */
  unmatchedPatterns?(
    patterns: readonly { kind: 'schema' | 'table'; pattern: string }[],
  ): Promise<{ kind: 'schema' | 'table'; pattern: string; malformed: boolean }[]>;
}

/** Major version from server_version_num (90624 → 9.6, 150018 → 15). */
export function majorFromVersionNum(versionNum: number): number {
  return versionNum >= 100_000 ? Math.floor(versionNum / 10_000) : Math.floor(versionNum / 100) / 10;
}

/**
 * Connects with libpq's sslmode semantics (see {@link pgClientConfig}; with allow/prefer/unset a
 * server that refuses SSL is retried without it), then turns off the role's statement, idle and
 * transaction timeouts for the connection (it stays open, mostly idle, for the whole dump).
 * Inherited PG* environment variables are not used (see {@link newClientWithoutPgEnv}).
 * @throws ConnectionError whose message comes from {@link classifyDriverError}.
 */
export async function connectInspector(conn: Connection): Promise<DatabaseInspector> {
  // The snapshot sessions reuse the config that worked: no second read of the SSL files, no second failed TLS attempt.
  const { client, config } = await connectResolved(conn);
  try {
    // The watch polls on this connection while pg_dump runs: it must outlive the role's timeouts too.
    await disableTimeouts(client, 0);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw toConnectionError(error, conn);
  }
  const sessions = new Set<Session>();
  let closed = false;
  return {
    databaseProperties: () => readDatabaseProperties(client),
    async unmatchedPatterns(patterns) {
      if (patterns.length === 0) return [];
      const regexes = patterns.map((p) => namePatternRegexes(p.pattern, p.kind));
      const result = await client.query<{ index: number; matched: boolean }>(PATTERN_MATCH_SQL, [
        JSON.stringify(patterns.map((p, i) => ({ kind: p.kind, ...(regexes[i] ?? { name: '^$', schema: '^$' }) }))),
      ]);
      return result.rows
        .filter((row) => !row.matched || regexes[row.index] === undefined)
        .map((row) => ({
          ...(patterns[row.index] as { kind: 'schema' | 'table'; pattern: string }),
          malformed: regexes[row.index] === undefined,
        }));
    },
    async serverInfo() {
      const result = await client.query<{ num: string; version: string; size: string }>(
        `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
                pg_database_size(current_database())::text AS size`,
      );
      const row = result.rows[0]!;
      const versionNum = Number(row.num);
      return {
        versionNum,
        major: majorFromVersionNum(versionNum),
        version: row.version,
        databaseSizeBytes: Number(row.size),
      };
    },
    async openSnapshot(options = {}) {
      const session = await Session.open(conn, config, options.lockTimeoutMs ?? 0, () => sessions.delete(session));
      sessions.add(session);
      return session;
    },
    watchLocks(own, log, suffix) {
      return watchLockWaits(client, own, log, suffix);
    },
    exclusiveHolders(relations) {
      return readExclusiveHolders(client, relations);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...sessions].map((s) => s.close()));
      await client.end().catch(() => undefined);
    },
  };
}

/**
 * A node-pg client with libpq's sslmode semantics: for allow/prefer/unset, retries without TLS when
 * the server does not support it.
 * @throws ConnectionError with the classified message; its `cause` keeps the driver's error.
 */
export async function connectClient(conn: Connection): Promise<pg.Client> {
  return (await connectResolved(conn)).client;
}

/** {@link connectClient}, also returning the client config that worked, for more connections to the same server. */
async function connectResolved(conn: Connection): Promise<{ client: pg.Client; config: pg.ClientConfig }> {
  const config = pgClientConfig(conn);
  try {
    return { client: await tryConnect(config), config };
  } catch (error) {
    if (sslFallbackAllowed(conn) && config.ssl && /does not support SSL/i.test(String((error as Error)?.message))) {
      const plain = withoutSsl(config);
      try {
        return { client: await tryConnect(plain), config: plain };
      } catch (retryError) {
        throw toConnectionError(retryError, conn);
      }
    }
    throw toConnectionError(error, conn);
  }
}

/**
 * Timeouts a role, database or server may set (`ALTER ROLE … SET statement_timeout = '1s'`) that
 * would cancel a count or end the session holding the exported snapshot while pg_dump still needs
 * it. pg_dump sets the same ones to 0 for its own sessions (pg_dump.c, setup_connection).
 * pg_settings lists only those the server has (idle_session_timeout 14+, transaction_timeout 17+).
 */
const SESSION_TIMEOUTS = [
  'statement_timeout',
  'idle_in_transaction_session_timeout',
  'idle_session_timeout',
  'transaction_timeout',
];

/** Sets {@link SESSION_TIMEOUTS} to 0 and lock_timeout to `lockTimeoutMs` (0 = wait forever) for the session. */
async function disableTimeouts(client: pg.Client, lockTimeoutMs: number): Promise<void> {
  await client.query(
    `SELECT pg_catalog.set_config(s.name, CASE WHEN s.name = 'lock_timeout' THEN $1 ELSE '0' END, false)
     FROM pg_catalog.pg_settings s WHERE s.name = ANY ($2::text[])`,
    [`${Math.max(0, Math.round(lockTimeoutMs))}ms`, [...SESSION_TIMEOUTS, 'lock_timeout']],
  );
}

/**
 * node-pg falls back to PG* environment variables (PGOPTIONS, PGAPPNAME, PGPASSWORD when the
 * password is empty, …) for what the config leaves unset, while pg_dump gets only the variables
 * built from the inputs (dumper.ts drops inherited PG*). The client is built with them hidden so
 * that both see the same connection; the constructor reads them synchronously, once.
 */
function newClientWithoutPgEnv(config: pg.ClientConfig): pg.Client {
  const hidden = Object.entries(process.env).filter(([name]) => name.startsWith('PG'));
  for (const [name] of hidden) delete process.env[name];
  try {
    return new pg.Client(config);
  } finally {
    for (const [name, value] of hidden) process.env[name] = value;
  }
}

async function tryConnect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = newClientWithoutPgEnv(config);
  // An idle connection that drops must not crash the process; the next query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

function toConnectionError(error: unknown, conn: Connection): ConnectionError {
  const { message } = classifyDriverError(error, { host: conn.host, port: conn.port });
  return new ConnectionError(message, { cause: error });
}

class Session implements SnapshotSession {
  private closed = false;
  /** Calls run one after another: a failed one must be rolled back before the next query runs. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: pg.Client,
    readonly snapshotId: string,
    readonly pid: number,
    private readonly conn: Connection,
    private readonly onClose: () => void,
  ) {}

  static async open(
    conn: Connection,
    config: pg.ClientConfig,
    lockTimeoutMs: number,
    onClose: () => void,
  ): Promise<Session> {
    const client = await tryConnect(config).catch((error: unknown) => {
      throw toConnectionError(error, conn);
    });
    try {
      // Before BEGIN: the session sits idle in this transaction for as long as pg_dump runs (its
      // parallel workers import the snapshot late), which idle_in_transaction_session_timeout would end.
      await disableTimeouts(client, lockTimeoutMs);
      // Output functions read these: the fingerprints of the same data must not depend on the role's settings.
      await client.query(
        'SELECT pg_catalog.set_config(($1::text[])[i], ($2::text[])[i], false) FROM pg_catalog.generate_subscripts($1::text[], 1) AS i',
        [Object.keys(PINNED_SETTINGS), Object.values(PINNED_SETTINGS)],
      );
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const result = await client.query<{ id: string; pid: number }>(
        'SELECT pg_catalog.pg_export_snapshot() AS id, pg_catalog.pg_backend_pid() AS pid',
      );
      return new Session(client, result.rows[0]!.id, result.rows[0]!.pid, conn, onClose);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs `fn` inside a savepoint. An error (e.g. permission denied on one table) would otherwise
   * abort the transaction, and with it the exported snapshot — pg_dump would then fail with
   * "could not import the requested snapshot" instead of the real cause.
   */
  private async inSavepoint<T>(fn: () => Promise<T>): Promise<T> {
    await this.client.query('SAVEPOINT inspect');
    try {
      const result = await fn();
      await this.client.query('RELEASE SAVEPOINT inspect');
      return result;
    } catch (error) {
      await this.client.query('ROLLBACK TO SAVEPOINT inspect').catch(() => undefined);
      throw error;
    }
  }

  rowCounts(mode: 'exact' | 'estimate'): Promise<TableRowCount[]> {
    return this.exclusive(() => this.inSavepoint(() => this.countRows(mode)));
  }

  tableContents(algorithm: FingerprintAlgorithm): Promise<TableContent[]> {
    return this.exclusive(() => this.inSavepoint(() => this.countRows('exact', algorithm))) as Promise<TableContent[]>;
  }

  sequences(): Promise<{ schema: string; name: string; value: SequenceValue }[]> {
    return this.exclusive(() => this.inSavepoint(() => readSequences(this.client)));
  }

  largeObjects(algorithm: FingerprintAlgorithm): Promise<LargeObjectsContent> {
    return this.exclusive(async () => {
      try {
        return await this.inSavepoint(() => readLargeObjects(this.client, algorithm));
      } catch (error) {
        return { count: null, fingerprint: null, reason: `large objects could not be read: ${errorText(error)}` };
      }
    });
  }

  catalogState(): Promise<CatalogState> {
    return this.exclusive(() => this.inSavepoint(() => readCatalogState(this.client)));
  }

  /** Counts (or, with `algorithm`, counts and fingerprints: one scan) each user table. */
  private async countRows(
    mode: 'exact' | 'estimate',
    algorithm?: FingerprintAlgorithm,
  ): Promise<(TableRowCount & { fingerprint?: string })[]> {
    const tables = (
      await this.client.query<{ schema: string; table: string; reltuples: number; live: number | null }>(
        USER_TABLES_SQL,
      )
    ).rows;
    tables.sort((a, b) => compare(a.schema, b.schema) || compare(a.table, b.table));
    const out: (TableRowCount & { fingerprint?: string })[] = [];
    for (const t of tables) {
      if (mode === 'estimate') {
        const rows = t.reltuples > 0 ? Math.round(t.reltuples) : Math.max(0, Math.round(t.live ?? 0));
        out.push({ schema: t.schema, table: t.table, rows });
        continue;
      }
      const name = `${this.client.escapeIdentifier(t.schema)}.${this.client.escapeIdentifier(t.table)}`;
      const sql = algorithm ? tableFingerprintSql(algorithm, name) : `SELECT count(*) AS n FROM ONLY ${name}`;
      let result: pg.QueryResult<{ n: string; fp?: string }>;
      try {
        result = await this.client.query<{ n: string; fp?: string }>(sql);
      } catch (error) {
        throw this.scanFailure(error, `${t.schema}.${t.table}`, algorithm ? ' and fingerprinting them' : '');
      }
      const row = result.rows[0]!;
      out.push({
        schema: t.schema,
        table: t.table,
        rows: Number(row.n),
        ...(row.fp === undefined ? {} : { fingerprint: row.fp }),
      });
    }
    return out;
  }

  /** The DumpError of a failed count or fingerprint of `relation` (a lock wait marked as such). */
  private scanFailure(error: unknown, relation: string, also: string): Error {
    const { kind, message } = classifyDriverError(error, { host: this.conn.host, port: this.conn.port });
    const failure = new DumpError(
      `Counting the rows of ${relation}${also} (for the manifest, in the dump's snapshot) failed: ${errorText(error)}. ${message}`,
      { cause: error },
    );
    return kind === 'timeout' && (error as { code?: unknown }).code === '55P03'
      ? markLockWait(failure, [relation])
      : failure;
  }

  catalogCounts(): Promise<CatalogCounts> {
    return this.exclusive(() => this.inSavepoint(() => this.countCatalog()));
  }

  private async countCatalog(): Promise<CatalogCounts> {
    const r = (await this.client.query<Record<string, string>>(CATALOG_COUNTS_SQL)).rows[0]!;
    return {
      tables: Number(r.tables),
      partitionedTables: Number(r.partitioned_tables),
      indexes: Number(r.indexes),
      constraints: Number(r.constraints),
      views: Number(r.views),
      materializedViews: Number(r.materialized_views),
      functions: Number(r.functions),
      sequences: Number(r.sequences),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    // Ending the connection ends the transaction (and the snapshot) without waiting for a count
    // that may still be running.
    await this.client.end().catch(() => undefined);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Code-unit order, independent of the server's collation. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
