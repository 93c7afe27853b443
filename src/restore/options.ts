/**
 * Settings of `command: restore`, `drill` and `check`, as parsed from their inputs by
 * config/restore.ts.
 *
 * These commands find backups by the source database's name (the `database` input) and
 * `destination` alone: they never read the production `database-url`.
 */
import type { PropertiesMode } from './database-properties.js';
import type { DecryptionConfig } from '../crypto/specs.js';
import type { Connection } from '../postgres/types.js';
import type { Destination, S3Settings } from '../storage/types.js';
import type { TocSelection } from './toc.js';

/** Which backup to use: the newest complete one (optionally with a label), or one exact key. */
export type BackupSelector = { kind: 'latest'; label?: string } | { kind: 'key'; key: string };

/** Where the backups are and how to read them, from the shared inputs (from the Config). */
export interface BackupSource {
  /** Name of the source database (the `database` input): a segment of every key. */
  database: string;
  /** restore and drill read the first one; check checks each. */
  destinations: Destination[];
  s3: S3Settings;
  /** `config.decryption` (decryption-private-key / decryption-passphrase), for encrypted archives. */
  decryption?: DecryptionConfig | undefined;
}

/** What `pg_restore`/`psql` do, shared by restore and drill. */
export interface RestoreBehaviour {
  backup: BackupSelector;
  /** The database restored into; its password reaches the tools only through PGPASSWORD. */
  target: Connection;
  /** Must equal `target.database` to restore into a database that already has user tables. */
  confirm?: string;
  /** pg_restore parallel jobs (custom and directory archives; plain SQL runs in one psql). */
  jobs: number;
  noOwner: boolean;
  noPrivileges: boolean;
  /** Apply the `.globals.sql` beside the archive (roles) with psql before the archive. */
  restoreGlobals: boolean;
  /**
   * How a database this run creates gets the source's own properties (manifest
   * `databaseProperties`): `exact` refuses a target that cannot take them, `best-effort` leaves
   * those out with a warning, `none` creates a bare database.
   */
  databaseProperties: PropertiesMode;
}

/** `command: restore`. */
export interface RestoreSettings extends RestoreBehaviour {
  command: 'restore';
  /** `pg_restore --clean --if-exists`: drop the archive's objects before recreating them. */
  clean: boolean;
  /** CREATE DATABASE the target (through the `postgres` maintenance database) when it is missing. */
  createDatabase: boolean;
  /** `table`, `schema`, `exclude-table`, `exclude-schema`: restore only part of the archive (toc.ts). */
  selection?: TocSelection;
  /** `files-target`, `files-only`, `files-overwrite`: restore the backup's files archive too (or alone). */
  files?: FilesRestore;
}

/**
 * Where and how `restore` puts the backup's files archive (config/files-target.ts). With `only`,
 * the database is not restored and `target` (the database connection) is a placeholder never used.
 */
export interface FilesRestore {
  /** The folder, absolute once the config is resolved (relative to the workspace as given). */
  folder: string;
  only: boolean;
  overwrite: boolean;
}

/** `command: drill`: restore into a scratch database, then verify it against the manifest. */
export interface DrillSettings extends RestoreBehaviour {
  command: 'drill';
  /** DROP the scratch database when the drill ends (passed or failed). */
  dropAfter: boolean;
  /** Extra assertions: each must return one row with one boolean `true`. */
  drillSql: string[];
}

/** `command: check`: freshness and size anomalies from the listing. */
export interface CheckSettings {
  command: 'check';
  /** Fail when the newest complete backup started longer ago than this (seconds). */
  maxAgeSeconds?: number;
  /** Fail when the newest archive is smaller than this fraction of the median of the previous 7. */
  minSizeRatio?: number;
  /** Only backups with this label count. */
  expectLabel?: string;
}

export type RestoreInputs = RestoreSettings | DrillSettings | CheckSettings;

/** Step outputs of these commands (to copy into action.yml). */
export const RESTORE_OUTPUTS: readonly { name: string; description: string }[] = [
  { name: 'restored-key', description: 'restore/drill: object key of the archive that was restored.' },
  {
    name: 'restore-seconds',
    description:
      'restore/drill: wall seconds from the start of the download to the restored (drill: verified) database.',
  },
  { name: 'drill-passed', description: 'drill: `true` when every check passed.' },
  { name: 'latest-key', description: 'check: object key of the newest complete backup (first destination).' },
  { name: 'latest-age-seconds', description: 'check: age in seconds of that backup (from the time in its key).' },
  {
    name: 'latest-server-major',
    description:
      "check: PostgreSQL major version of the server that backup was taken from (from its manifest), e.g. for a drill's service container image.",
  },
];
