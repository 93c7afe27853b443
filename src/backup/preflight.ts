/** Checks before a backup touches the database: the stores answer, the name patterns match. */
import { ConfigError, errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import type { DatabaseInspector } from '../postgres/inspect.js';
import type { DumpOptions } from '../postgres/types.js';
import type { ObjectStore } from '../storage/types.js';

/**
 * One cheap request to each destination ({@link ObjectStore.preflight}) before any work, all at once.
 * When every destination fails, the backup stops before touching the database; when only some do,
 * they are named in a warning and the backup goes on for the others (the failed ones fail again at
 * upload and are reported with the run's result, see runBackup).
 * @throws the first destination's error when all fail (ConfigError for refused credentials,
 *   UploadError otherwise).
 */
export async function preflightStores(stores: ObjectStore[], log: Log): Promise<void> {
  try {
    const asked = stores.filter((s) => s.preflight !== undefined);
    if (asked.length === 0) return;
    const results = await Promise.allSettled(
      asked.map((store) => (store.preflight as () => Promise<void>).call(store)),
    );
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ url: asked[i]?.destination.url, reason: r.reason as unknown }] : [],
    );
    if (failed.length > 0 && failed.length === stores.length) throw failed[0]?.reason;
    for (const f of failed)
      log.warning(`${f.url}: ${errorMessage(f.reason)} The backup goes on for the other destinations.`);
    const good = asked.filter((_, i) => results[i]?.status === 'fulfilled');
    if (good.length > 0) log.info(`${good.map((s) => s.destination.url).join(', ')}: reachable, credentials accepted.`);
  } finally {
    // These stores only asked; the backup makes its own. Their S3 clients' sockets are closed now.
    for (const store of stores) store.close();
  }
}

/**
 * Fails naming the input and the pattern when a `schema` or `table` pattern matches nothing (even
 * when another one matches: pg_dump alone would then dump the others and say nothing), before pg_dump
 * runs. Patterns are matched as pg_dump matches them (postgres/patterns.ts).
 * @throws ConfigError naming `schema` or `table`.
 */
export async function checkPatterns(db: DatabaseInspector, dump: DumpOptions, database: string): Promise<void> {
  const patterns = [
    ...dump.schemas.map((pattern) => ({ kind: 'schema' as const, pattern })),
    ...dump.tables.map((pattern) => ({ kind: 'table' as const, pattern })),
  ];
  const unmatched = (await db.unmatchedPatterns?.(patterns)) ?? [];
  const first = unmatched[0];
  if (first === undefined) return;
  const others = unmatched.slice(1).map((u) => `${u.kind} '${u.pattern}'`);
  const what = first.kind === 'schema' ? 'schema' : 'table, view, sequence or foreign table';
  const problem = first.malformed
    ? `pattern '${first.pattern}' has too many dot-separated parts (at most ${first.kind === 'schema' ? 'database.schema' : 'database.schema.table'}).`
    : `pattern '${first.pattern}' matches no ${what} in database '${database}'.`;
  throw new ConfigError(
    first.kind,
    `${problem}${others.length > 0 ? ` Nor do: ${others.join(', ')}.` : ''} Patterns follow pg_dump's rules: unquoted names are folded to lower case (quote them for capitals: "MyTable"), * and ? are wildcards, schema.table qualifies${first.kind === 'table' ? ', and a table without a schema must be in the search path' : ''}. Fix or remove the pattern.`,
  );
}
