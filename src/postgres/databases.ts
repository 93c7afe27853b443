/**
 * The databases of a server, for `database: all` (docs/databases.md): which ones a backup of the
 * whole server covers, and which the role cannot connect to.
 */
import { ConfigError, ConnectionError } from '../errors.js';
import { connectClient } from './inspect.js';
import { notExcluded } from './patterns.js';
import type { Connection } from './types.js';

/**
 * Every database that accepts connections, except the templates, as pg_dumpall goes over them, and
 * whether the connected role may connect to each (PostgreSQL docs, "System Catalogs: pg_database":
 * `datallowconn`, `datistemplate`; "System Information Functions": has_database_privilege). `name`
 * sorts bytewise (the C collation), so `ORDER BY datname` is alphabetical by code point.
 */
export const SERVER_DATABASES_SQL = `
  SELECT datname AS name, pg_catalog.has_database_privilege(datname, 'CONNECT') AS can_connect
  FROM pg_catalog.pg_database
  WHERE datallowconn AND NOT datistemplate
  ORDER BY datname`;

/** One row of {@link SERVER_DATABASES_SQL}. */
export interface ServerDatabase {
  name: string;
  /** The connected role holds CONNECT on it (directly, through a role, or through PUBLIC). */
  canConnect: boolean;
}

/** Lists the server's databases over one connection (the given connection's database). */
export type ServerDatabaseLister = (connection: Connection) => Promise<ServerDatabase[]>;

/**
 * {@link ServerDatabaseLister} over node-pg: one connection, one query, closed after.
 * @throws ConnectionError when the server cannot be reached or refuses the role.
 */
export async function listServerDatabases(connection: Connection): Promise<ServerDatabase[]> {
  const client = await connectClient(connection);
  try {
    const result = await client.query<{ name: string; can_connect: boolean }>(SERVER_DATABASES_SQL);
    return result.rows.map((row) => ({ name: row.name, canConnect: row.can_connect }));
  } catch (error) {
    throw new ConnectionError(
      `Could not list the databases of ${connection.host}:${connection.port}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What a run over the server's databases does with each. */
export interface ServerDatabasePlan {
  /** To back up, in the server's order. */
  run: string[];
  /** Left out by `exclude-database` (with those the role cannot connect to), in the server's order. */
  excluded: string[];
  /** Of `excluded`: those the role may not connect to (worth a warning line). */
  unconnectableExcluded: string[];
}

/**
 * Which of the server's databases `database: all` backs up, given the `exclude-database` patterns.
 * Pure.
 * @throws ConnectionError naming every database the role cannot connect to that no pattern excludes,
 *   with the two fixes (GRANT CONNECT, or exclude-database).
 * @throws ConfigError naming `exclude-database` when nothing is left to back up.
 */
export function planServerDatabases(
  found: readonly ServerDatabase[],
  exclude: readonly string[],
  role: string,
): ServerDatabasePlan {
  const kept = new Set(
    notExcluded(
      found.map((d) => d.name),
      exclude,
    ),
  );
  const excluded = found.filter((d) => !kept.has(d.name)).map((d) => d.name);
  const refused = found.filter((d) => kept.has(d.name) && !d.canConnect).map((d) => d.name);
  if (refused.length > 0) {
    const names = refused.map((n) => `"${n}"`).join(', ');
    throw new ConnectionError(
      `The role "${role}" may not connect to ${refused.length === 1 ? 'database' : 'databases'} ${names}, so database: all cannot back ${refused.length === 1 ? 'it' : 'them'} up. ` +
        `Grant it (GRANT CONNECT ON DATABASE ${refused.map((n) => `"${n.replace(/"/g, '""')}"`).join(', ')} TO "${role.replace(/"/g, '""')}";), ` +
        `or leave ${refused.length === 1 ? 'it' : 'them'} out with exclude-database (one name per line, in double quotes for an exact name).`,
    );
  }
  const run = found.filter((d) => kept.has(d.name)).map((d) => d.name);
  if (run.length === 0) {
    throw new ConfigError(
      'exclude-database',
      `it excludes every database of the server (${found.map((d) => d.name).join(', ') || 'none found'}), so nothing would be backed up; remove the pattern that matches them all.`,
    );
  }
  const unconnectableExcluded = found.filter((d) => !kept.has(d.name) && !d.canConnect).map((d) => d.name);
  return { run, excluded, unconnectableExcluded };
}
