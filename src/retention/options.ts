/** The one options shape of the retention room's list and prune. */
import type { Log } from '../log.js';
import type { Catalog } from '../storage/catalog.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import type { RetentionPolicy } from './policy.js';

/** Everything runPrune and runList need (no database connection: backups are found by name). */
export interface RetentionOptions {
  destinations: Destination[];
  s3: S3Settings;
  /** The database whose backups to consider (`<prefix>/<database>/…`). */
  database: string;
  /** Required by runPrune; optional for runList (then no keep/delete preview). */
  policy?: RetentionPolicy | undefined;
  /** Plan and report only. */
  dryRun: boolean;
  now: Date;
  log: Log;
  createStore(destination: Destination, s3: S3Settings): ObjectStore;
  /**
   * Archive keys that must survive, by destination URL (`Destination.url`): the backup just
   * written and verified there. A destination with an entry is pruned only when those keys are in
   * its listing as complete backups.
   */
  mustKeep?: Record<string, string[]>;
  /**
   * Keys of complete backups in `catalog` found anomalous (retention/anomaly.ts), asked once per
   * destination over the listing the prune reads: they count for the rules, but the last good backup
   * behind them is kept (planRetention). Must not throw.
   */
  anomalous?: (store: ObjectStore, catalog: Catalog) => Promise<ReadonlySet<string>>;
}
