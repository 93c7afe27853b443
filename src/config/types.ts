import type { Connection, DumpOptions } from '../postgres/types.js';
import type { DecryptionConfig, EncryptionConfig } from '../crypto/openpgp.js';
import type { ReportingConfig } from '../report/reporting-config.js';
import type { RestoreInputs } from '../restore/options.js';
import type { RetentionInputs } from '../retention/policy.js';
import type { Destination, S3Settings } from '../storage/types.js';

/** The commands this action runs (`command` input). Later commands plug in here. */
export const COMMANDS = ['backup', 'prune', 'list', 'restore', 'drill', 'check'] as const;
export type Command = (typeof COMMANDS)[number];

/** How the manifest's per-table row counts are taken. */
export type RowCountMode = 'exact' | 'estimate';

/** Every input, read once, validated and typed. Built by {@link parseConfig}. */
export interface Config {
  command: Command;
  /** The source database's connection; required by `backup` only (a drill job holds no production credentials). */
  connection?: Connection;
  /** The source database's name: from the connection, or the `database` input for the other commands. */
  database: string;
  /** One or more; the archive is streamed to all of them from a single pg_dump run. */
  destinations: Destination[];
  s3: S3Settings;
  dump: DumpOptions;
  /** Goes into the object key and the manifest (`daily`, `pre-migration`, …); undefined when none. */
  label?: string;
  rowCounts: RowCountMode;
  installClient: boolean;
  /** Wanted pg_dump major, or undefined for `auto` (the server's major). */
  clientMajor?: number;
  /** Write the job summary. */
  summary: boolean;
  /** Retention policy; applied after a verified backup, or alone by `prune`; previewed by `list`. */
  retention: RetentionInputs;
  /** OpenPGP encryption of new archives (public key(s) or passphrase); undefined = none. */
  encryption?: EncryptionConfig;
  /** How to decrypt archives for restore and drill; undefined = none given. */
  decryption?: DecryptionConfig;
  /** What `restore`, `drill` and `check` do (their own inputs); undefined for the other commands. */
  restore?: RestoreInputs;
  /** Failure issue and webhook settings (every command reports its outcome). */
  reporting: ReportingConfig;
}

export type { InputReader } from './reader.js';
