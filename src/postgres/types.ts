import type { Compression } from '../pipeline/compression.js';

/** libpq sslmode values (PostgreSQL docs, "34.19 SSL Support", table 34.1). */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * Where the source database is, from `database-url` or the host/port/username/password/database
 * inputs. The password is kept apart: it reaches pg_dump only through the PGPASSWORD environment
 * variable, never through argv or a log.
 */
export interface Connection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sslmode?: SslMode;
  /** Other libpq URL parameters the user passed (e.g. sslrootcert, options, application_name). */
  params: Record<string, string>;
}

/** Output of `pg_dump --version` etc., parsed. */
export interface ClientTool {
  /** Absolute path of the executable. */
  path: string;
  /** Major version, e.g. 15. */
  major: number;
  /** Full version string, e.g. "15.18". */
  version: string;
}

/**
 * The client tool a caller is about to run: ensureClient finds pg_dump either way (its siblings
 * share its folder and major) and names this tool in the warning it returns.
 */
export type ClientToolName = 'pg_dump' | 'pg_restore';

export type DumpFormat = 'custom' | 'directory' | 'plain';

/** What to dump and how (the pg_dump options this action exposes). */
export interface DumpOptions {
  format: DumpFormat;
  compression: Compression;
  /** Parallel jobs; > 1 only with the directory format. */
  jobs: number;
  schemas: string[];
  excludeSchemas: string[];
  tables: string[];
  excludeTables: string[];
  excludeTableData: string[];
  schemaOnly: boolean;
  dataOnly: boolean;
  noOwner: boolean;
  noPrivileges: boolean;
  /** Also store `pg_dumpall --globals-only --no-role-passwords`. */
  globals: boolean;
  /**
   * `lock-wait-timeout` in milliseconds: pg_dump's `--lock-wait-timeout` and the counting session's
   * lock_timeout. 0 or unset: wait for locks forever.
   */
  lockWaitTimeoutMs?: number;
  /** Extra pg_dump arguments, one per element, already checked against the deny-list. */
  extraArgs: string[];
}
