/**
 * `command: list`: the backups of one database in each destination, oldest to newest as stored,
 * with what the retention policy (when one is set) would keep and delete. Deletes nothing.
 */
import { listResult, type ListResult } from '../report/retention-report.js';
import { listDestination, type DestinationListing } from '../retention/list-destination.js';
import type { ListConfig } from '../config/types.js';
import type { RetentionDeps } from './prune.js';

/**
 * Lists the database's backups in every destination and, when `policy` is set, plans retention
 * (a preview; nothing is deleted).
 *
 * Never throws for storage problems: a destination that cannot be listed gets an `error` (logged
 * as a warning and collected in `warnings`).
 */
export async function runList(config: ListConfig, deps: RetentionDeps): Promise<ListResult> {
  const options = { ...config, ...deps, dryRun: true };
  const { log } = options;
  const listings: DestinationListing[] = [];
  for (const destination of options.destinations) {
    const listing = await log.group(`Backups of ${options.database} in ${destination.url}`, () =>
      listDestination(destination, options),
    );
    listings.push(listing);
  }
  return listResult(options, listings);
}
