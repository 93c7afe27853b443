import type { Connection, DumpOptions } from '../postgres/types.js';
import type { DecryptionConfig, EncryptionConfig } from '../crypto/specs.js';
import type { ReportingConfig } from '../report/reporting-config.js';
import type { FilesSettings } from './files.js';
import type { CheckSettings, DrillSettings, RestoreSettings } from '../restore/options.js';
import type { AnomalyPolicy } from '../retention/anomaly.js';
import type { RetentionInputs, RetentionPolicy } from '../retention/policy.js';
import type { Destination, S3Settings } from '../storage/types.js';

/** The commands this action runs (`command` input). Later commands plug in here. */
export const COMMANDS = ['backup', 'prune', 'list', 'restore', 'drill', 'check'] as const;
export type Command = (typeof COMMANDS)[number];

/** How the manifest's per-table row counts are taken. */
export type RowCountMode = 'exact' | 'estimate';
/** The `verify` input: what the manifest records for drills (`content`: fingerprints and states; `counts`: row and object counts only). */
export type VerifyMode = 'content' | 'counts';

/**
 * Several databases in one run (`database: all` or a list; config/databases.ts). The run goes over
 * them one by one (or `parallel` at a time), each with the single-database config of its own.
 */
export interface DatabaseSelection {
  /** `all`: every database (backup: of the server; other commands: with backups in the first destination). */
  mode: 'all' | 'list';
  /** `list`: the names as given, in order; `all`: empty (resolved at run time). */
  names: string[];
  /** `exclude-database` patterns (pg_dumpall --exclude-database rules). */
  exclude: string[];
  /** `parallel-databases`: databases at a time, 1-16. */
  parallel: number;
}

/** What every command reads: where the backups are, and how the run reports. */
export interface CommonConfig {
  /**
   * The source database's name: from the connection (backup), or the `database` input. With
   * `databases`: the run's display name (`all`, or the names joined by `, `).
   */
  database: string;
  /** Several databases (`database: all` or a list); undefined for one database. */
  databases?: DatabaseSelection;
  /** One or more; a backup streams to all of them from one pg_dump run; restore and drill read the first. */
  destinations: Destination[];
  s3: S3Settings;
  /** Write the job summary. */
  summary: boolean;
  /** Failure issue and webhook settings (every command reports its outcome). */
  reporting: ReportingConfig;
  /** `keepalive`: on a scheduled run, re-enable this workflow before GitHub disables it (report/keepalive.ts). */
  keepalive: boolean;
}

/** Which PostgreSQL client tools to use (backup, restore, drill). */
export interface ClientConfig {
  installClient: boolean;
  /** Wanted client major, or undefined for `auto` (the server's or the archive's major). */
  clientMajor?: number;
}

/** `command: backup`. */
export interface BackupConfig extends CommonConfig, ClientConfig {
  command: 'backup';
  /** The source database's connection (a drill job holds no production credentials: backup only). */
  connection: Connection;
  dump: DumpOptions;
  /** Goes into the object key and the manifest (`daily`, `pre-migration`, …); undefined when none. */
  label?: string;
  rowCounts: RowCountMode;
  /** `verify`: record the content fingerprints (with `row-counts: estimate`, everything but the tables'). */
  verify: VerifyMode;
  /** Retention policy applied after a verified backup. */
  retention: RetentionInputs;
  /** OpenPGP encryption of new archives (public key(s) or passphrase); undefined = none. */
  encryption?: EncryptionConfig;
  /** Per-table anomalies against the previous complete backup (`anomaly`, `max-row-drop`). */
  anomaly: AnomalyPolicy;
  /** `files`, `files-exclude`, `files-optional`: the files archive beside the database; undefined = none. */
  files?: FilesSettings;
}

/** `command: prune`: apply the retention policy alone. */
export interface PruneConfig extends CommonConfig {
  command: 'prune';
  policy: RetentionPolicy;
  /** Plan and report only: `prune-dry-run: true`, or `prune: false`. */
  dryRun: boolean;
  /** `max-row-drop`: anomalous newest backups (recomputed from their manifests) never cost the last good one. */
  anomaly?: AnomalyPolicy;
}

/** `command: list`: the backups, and a preview of the retention policy when one is set. */
export interface ListConfig extends CommonConfig {
  command: 'list';
  policy?: RetentionPolicy;
}

/** How `restore` and `drill` decrypt archives: undefined = no decryption input given. */
interface DecryptionPart {
  decryption?: DecryptionConfig | undefined;
}

/** `command: restore`. */
export interface RestoreConfig extends CommonConfig, ClientConfig, RestoreSettings, DecryptionPart {}

/** `command: drill`. */
export interface DrillConfig extends CommonConfig, ClientConfig, DrillSettings, DecryptionPart {}

/** `command: check`. */
export interface CheckConfig extends CommonConfig, CheckSettings {
  /** Per-table anomalies of the newest backup against the one before (`anomaly`, `max-row-drop`). */
  anomaly: AnomalyPolicy;
  /**
   * `max-row-drop` (default 0.5; a runner passes the default of an unset input, so it is always
   * set): the fraction the files part's file count may drop by (docs/files.md).
   */
  filesMaxDrop?: number;
}

/** Every input, read once, validated and typed for the command that runs. Built by parseConfig. */
export type Config = BackupConfig | PruneConfig | ListConfig | RestoreConfig | DrillConfig | CheckConfig;

export type { InputReader } from './reader.js';
