/**
 * The I/O of restore and drill, declared once: `commands/restore.ts` and `commands/drill.ts` take
 * it, and the restore library's steps read the members they need.
 */
import type { Duplex } from 'node:stream';
import type { Log } from '../log.js';
import type { Manifest } from '../manifest.js';
import type { CompressorsAvailable } from '../pipeline/compression.js';
import type { DatabaseInspector } from '../postgres/inspect.js';
import type { ClientTool, ClientToolName, Connection } from '../postgres/types.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import type { TargetAccess } from './target.js';

/**
 * The I/O of restore and drill. `realDeps` of main.ts (a BackupDeps) has every required member.
 */
export interface RestoreDeps extends TargetAccess {
  log: Log;
  createStore(destination: Destination, s3: S3Settings): ObjectStore;
  /**
   * Finds (or installs) client tools of `major` (the archive's pg_dump major) or newer; returns the
   * folder with pg_restore and psql. The real one is `ensureClient({ serverMajor: major, tool, … })`.
   */
  ensureClient(major: number, tool?: ClientToolName): Promise<{ pgDump: ClientTool; binDir: string; warning?: string }>;
  detectCompressors(): Promise<CompressorsAvailable>;
  /** node-pg inspector (drill: row counts and object counts of the restored database). */
  connect(connection: Connection): Promise<DatabaseInspector>;
  /** Folder for the directory format's unpacked tar and the custom format's file with jobs > 1. */
  tempDir: string;
  now(): Date;
  /** Aborted on SIGINT/SIGTERM: pg_restore/psql are killed. */
  signal?: AbortSignal;
  /**
   * Overrides how encrypted archives are decrypted (default: OpenPGP with the options'
   * `decryption`): returns a fresh decrypting stage for the manifest's archive or globals.
   */
  decrypt?: (manifest: Manifest) => Duplex | undefined;
}
