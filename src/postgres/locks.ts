/**
 * Lock waits of the backup's own sessions (pg_dump's backends and the counting session): who holds
 * the lock they wait for, read from `pg_locks`, `pg_blocking_pids()` and `pg_stat_activity`
 * (PostgreSQL docs, "pg_locks" and "System Administration Functions"). Used to log a waiting
 * backup every {@link LOCK_REPORT_INTERVAL_SECONDS} and to name the holder when a lock wait
 * times out.
 */
import type pg from 'pg';

/** A wait is first logged after this many seconds, then again every as many seconds. */
export const LOCK_REPORT_INTERVAL_SECONDS = 30;
/**
 * How often the waits are read: pg_stat_activity only (cheap); pg_locks, whose read takes every
 * lock-manager partition lock, is read only while one of ours waits for a lock.
 */
const POLL_MS = 2000;

/** A backend holding (or queued before) the lock one of ours waits for. */
export interface LockHolder {
  pid: number;
  /** `application_name` ('' when the client set none). */
  applicationName: string;
  /** Null when pg_stat_activity does not show it (the backend is gone). */
  user: string | null;
  /** ISO time; null when this role may not see it (another role's session without pg_read_all_stats) or no query ran. */
  queryStart: string | null;
  /** `active`, `idle in transaction`, …; null when not visible to this role. */
  state: string | null;
  /** The lock modes it holds on the relation (`AccessExclusiveLock`…); empty when it only waits ahead of ours. */
  modes: string[];
}

export interface LockWait {
  /** Backend of ours that waits. */
  pid: number;
  /** `pg_dump` or `counting` (the session that counts rows in the dump's snapshot). */
  waiter: string;
  /** `schema.table` of the relation waited for; null for other lock types (then see lockType). */
  relation: string | null;
  lockType: string;
  /** The mode wanted, e.g. AccessShareLock. */
  mode: string;
  holders: LockHolder[];
}

/** Which backends are the backup's: the counting session by pid, pg_dump's by name and start time. */
export interface OwnBackends {
  /** Backend pid of the snapshot/counting session. */
  countingPid: number;
  /** pg_dump's application_name: the URL's application_name, else 'pg_dump' (its fallback_application_name). */
  pgDumpApplicationName: string;
  /** pg_dump's backends started after this time (with a margin for clock skew). */
  since: Date;
}

const HOLDER_COLUMNS = `
  coalesce(a.application_name, '') AS application_name, a.usename AS user,
  to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS query_start, a.state AS state`;

/** The backup's backends that wait for a heavyweight lock now. */
const WAITING_SQL = `
  SELECT a.pid, CASE WHEN a.pid = $1 THEN 'counting' ELSE 'pg_dump' END AS waiter
  FROM pg_catalog.pg_stat_activity a
  WHERE a.wait_event_type = 'Lock'
    AND (a.pid = $1
         OR (a.datname = current_database() AND a.usename = current_user AND a.application_name = $2
             AND a.backend_start >= $3::timestamptz AND a.pid <> pg_catalog.pg_backend_pid()))`;

const WAITS_SQL = `
  WITH ours AS (
    SELECT * FROM unnest($1::int[], $2::text[]) AS o(pid, waiter)
  ), waits AS (
    SELECT l.pid, o.waiter, l.locktype, l.mode, l.relation
    FROM pg_catalog.pg_locks l JOIN ours o ON o.pid = l.pid
    WHERE NOT l.granted
  )
  SELECT w.pid, w.waiter, w.locktype, w.mode,
         (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = w.relation) AS relation,
         b.pid AS holder_pid, ${HOLDER_COLUMNS},
         ARRAY(SELECT h.mode FROM pg_catalog.pg_locks h
               WHERE h.pid = b.pid AND h.granted AND h.locktype = w.locktype AND h.relation IS NOT DISTINCT FROM w.relation) AS modes
  FROM waits w
  LEFT JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS b(pid) ON true
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = b.pid
  ORDER BY w.pid, b.pid`;

/**
 * The lock waits of the backup's backends, each with the backends blocking it.
 * @throws the driver's error when the query fails (the caller decides whether that matters).
 */
export async function readLockWaits(client: pg.Client, own: OwnBackends): Promise<LockWait[]> {
  const since = new Date(own.since.getTime() - 2000).toISOString();
  const waiting = (
    await client.query<{ pid: number; waiter: string }>(WAITING_SQL, [
      own.countingPid,
      own.pgDumpApplicationName,
      since,
    ])
  ).rows;
  if (waiting.length === 0) return [];
  const { rows } = await client.query<Record<string, unknown>>(WAITS_SQL, [
    waiting.map((w) => w.pid),
    waiting.map((w) => w.waiter),
  ]);
  const byKey = new Map<string, LockWait>();
  for (const r of rows) {
    const key = `${String(r.pid)}:${String(r.locktype)}:${String(r.relation)}`;
    let wait = byKey.get(key);
    if (!wait) {
      wait = {
        pid: Number(r.pid),
        waiter: String(r.waiter),
        relation: (r.relation as string | null) ?? null,
        lockType: String(r.locktype),
        mode: String(r.mode),
        holders: [],
      };
      byKey.set(key, wait);
    }
    if (r.holder_pid !== null && r.holder_pid !== undefined) wait.holders.push(holderFromRow(r, Number(r.holder_pid)));
  }
  return [...byKey.values()];
}

/**
 * Backends that hold or wait for an ACCESS EXCLUSIVE lock on one of `relations` (`schema.table`
 * names, unquoted): the only mode that conflicts with the ACCESS SHARE lock
 * pg_dump and count(*) take, so these are what a timed-out wait waited for.
 */
export async function readExclusiveHolders(client: pg.Client, relations: string[]): Promise<Map<string, LockHolder[]>> {
  const { rows } = await client.query<Record<string, unknown>>(
    `SELECT n.nspname || '.' || c.relname AS relation, l.pid AS holder_pid, ${HOLDER_COLUMNS},
            CASE WHEN l.granted THEN ARRAY[l.mode] ELSE ARRAY[]::text[] END AS modes
     FROM pg_catalog.pg_locks l
     JOIN pg_catalog.pg_class c ON c.oid = l.relation
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_catalog.pg_backend_pid()
       AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
       AND (n.nspname || '.' || c.relname) = ANY ($1::text[])
     ORDER BY l.granted DESC, l.pid`,
    [relations],
  );
  const out = new Map<string, LockHolder[]>();
  for (const r of rows) {
    const name = String(r.relation);
    out.set(name, [...(out.get(name) ?? []), holderFromRow(r, Number(r.holder_pid))]);
  }
  return out;
}

function holderFromRow(r: Record<string, unknown>, pid: number): LockHolder {
  return {
    pid,
    applicationName: (r.application_name as string | null) ?? '',
    user: (r.user as string | null) ?? null,
    queryStart: (r.query_start as string | null) ?? null,
    state: (r.state as string | null) ?? null,
    modes: Array.isArray(r.modes) ? (r.modes as string[]) : [],
  };
}

/** `pid 123 (application "psql", user alice, holds AccessExclusiveLock, idle in transaction, query started 2026-…Z)`. */
export function describeHolder(h: LockHolder): string {
  const parts = [`application "${h.applicationName}"`];
  if (h.user) parts.push(`user ${h.user}`);
  parts.push(h.modes.length > 0 ? `holds ${h.modes.join(', ')}` : 'waits ahead in the lock queue');
  if (h.state) parts.push(h.state);
  parts.push(
    h.queryStart
      ? `query started ${h.queryStart}`
      : 'query start not visible to this role (pg_read_all_stats shows it)',
  );
  return `pid ${h.pid} (${parts.join(', ')})`;
}

/** One log line for a wait that has lasted `seconds`. */
export function describeLockWait(wait: LockWait, seconds: number): string {
  const what = wait.relation ? `${wait.mode} on ${wait.relation}` : `a ${wait.lockType} lock (${wait.mode})`;
  const by = wait.holders.length > 0 ? wait.holders.map(describeHolder).join('; ') : 'a backend no longer visible';
  return `${wait.waiter} (backend pid ${wait.pid}) has waited ${Math.round(seconds)} s for ${what}, blocked by ${by}.`;
}

/**
 * Polls the waits of the backup's backends every 2 s and logs each wait that has lasted
 * {@link LOCK_REPORT_INTERVAL_SECONDS} or more, then every as many seconds while it lasts.
 * A failed poll is ignored (the next one tries again): the watch must never fail a backup.
 * @returns stop(), which ends the polling and waits for a poll in flight.
 */
export function watchLockWaits(
  client: pg.Client,
  own: OwnBackends,
  log: (line: string) => void,
  suffix = '',
): { stop(): Promise<void> } {
  const firstSeen = new Map<string, number>();
  const lastLogged = new Map<string, number>();
  const intervalMs = LOCK_REPORT_INTERVAL_SECONDS * 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const poll = async (): Promise<void> => {
    const waits = await readLockWaits(client, own).catch(() => undefined);
    if (!waits || stopped) return;
    const now = Date.now();
    const seen = new Set<string>();
    for (const wait of waits) {
      const key = `${wait.pid}:${wait.lockType}:${wait.relation}`;
      seen.add(key);
      const since = firstSeen.get(key) ?? now;
      firstSeen.set(key, since);
      const logged = lastLogged.get(key);
      if (now - since >= intervalMs && (logged === undefined || now - logged >= intervalMs)) {
        lastLogged.set(key, now);
        log(describeLockWait(wait, (now - since) / 1000) + suffix);
      }
    }
    for (const key of [...firstSeen.keys()]) {
      if (!seen.has(key)) {
        firstSeen.delete(key);
        lastLogged.delete(key);
      }
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = poll().finally(schedule);
    }, POLL_MS);
    // The watch alone never keeps the process alive.
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight.catch(() => undefined);
    },
  };
}

/** Relations a timed-out lock wait was for, attached to the error that reports it. */
const LOCK_WAIT_RELATIONS = new WeakMap<object, string[]>();

/** Marks `error` as a lock wait that timed out on one of `relations` (`schema.table`). */
export function markLockWait<E extends object>(error: E, relations: string[]): E {
  LOCK_WAIT_RELATIONS.set(error, relations);
  return error;
}

/** The relations {@link markLockWait} attached, or undefined when `error` is no lock-wait timeout. */
export function lockWaitRelations(error: unknown): string[] | undefined {
  return error !== null && typeof error === 'object' ? LOCK_WAIT_RELATIONS.get(error) : undefined;
}

/**
 * The relations of pg_dump's `LOCK TABLE a.b, c.d IN ACCESS SHARE MODE` (its "Query was:" line;
 * pg_dump 16+ locks several tables per statement), as `schema.table` with quotes removed.
 */
export function relationsOfLockQuery(stderr: string): string[] {
  const m = /LOCK TABLE (.+?) IN [A-Z ]+ MODE/.exec(stderr);
  if (!m) return [];
  const ident = '(?:"(?:[^"]|"")*"|[^\\s,."]+)';
  const names = m[1]!.match(new RegExp(`${ident}\\.${ident}`, 'g')) ?? [];
  return names.map((name) => {
    const parts = name.match(new RegExp(ident, 'g')) ?? [];
    return parts.map((p) => (p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p)).join('.');
  });
}
