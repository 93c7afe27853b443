/**
 * A run over several databases (`database: all` or a list; docs/databases.md): resolves which
 * databases, runs the single-database command for each with a config of its own (sequentially, or
 * `parallel-databases` at a time), keeps going past a failed one, then publishes the outputs, the
 * summary table and the one error naming every failed database.
 */
import type { Config, DatabaseSelection, DrillConfig } from '../config/types.js';
import { excludesEverything } from '../config/databases.js';
import { ActionError, ConfigError, errorMessage, type Phase } from '../errors.js';
import type { Host } from '../host.js';
import type { Log } from '../log.js';
import { listServerDatabases, planServerDatabases, type ServerDatabaseLister } from '../postgres/databases.js';
import { notExcluded } from '../postgres/patterns.js';
import { redact } from '../redact.js';
import {
  databasesOutputs,
  databasesSummary,
  DatabasesError,
  type DatabaseOutcome,
} from '../report/databases-report.js';
import { listDatabases } from '../storage/catalog.js';
import { createStore } from '../storage/index.js';
import type { CommandOutcome, RunContext, ToolProbes } from './context.js';

/** Runs one database's command (run/commands.ts) with the context given. */
export type SingleRunner = (config: Config, context: RunContext) => Promise<CommandOutcome>;

/** The I/O that resolves `all`: the server's databases (backup), the first destination's (the others). */
export interface ResolveDeps {
  listServer: ServerDatabaseLister;
  listStored: (config: Config) => Promise<string[]>;
}

const REAL_RESOLVE: ResolveDeps = {
  listServer: listServerDatabases,
  async listStored(config) {
    const store = createStore(config.destinations[0]!, config.s3);
    try {
      return await listDatabases(store);
    } finally {
      store.close();
    }
  },
};

/** The phase a failure that is not an ActionError is reported in, per command. */
const DEFAULT_PHASE: Record<Config['command'], Phase> = {
  backup: 'dump',
  prune: 'prune',
  list: 'prune',
  restore: 'restore',
  drill: 'drill',
  check: 'check',
};

/**
 * Runs `config`'s command for each of its databases (`config.databases`) and publishes the run's
 * outputs (`backups-json`; per other output: JSON arrays concatenated, `pruned-count`/`kept-count`
 * summed, `drill-passed` true only when every drill passed, anything else the first database's in
 * the run's order that set it) and summary table.
 * @returns the first stored backup's key, for the outcome report.
 * @throws what resolving throws (ConnectionError naming the databases the role cannot connect to;
 *   ConfigError naming exclude-database when it leaves nothing); DatabasesError after every database
 *   ran, when any failed.
 */
export async function runDatabases(
  config: Config & { databases: DatabaseSelection },
  context: RunContext,
  single: SingleRunner,
  deps: ResolveDeps = REAL_RESOLVE,
): Promise<CommandOutcome> {
  const started = performance.now();
  const { log } = context.host;
  const { run, skipped } = await resolve(config, log, deps);
  log.info(
    `${config.command} of ${run.length} ${run.length === 1 ? 'database' : 'databases'}: ${run.join(', ')}` +
      (skipped.length > 0 ? ` (left out by exclude-database: ${skipped.join(', ')})` : '') +
      (config.databases.parallel > 1 ? `; ${config.databases.parallel} at a time.` : '.'),
  );
  const outputs: Record<string, string>[] = [];
  // The client search and the stdbuf probe are the same for every database of one server.
  const probes: ToolProbes = { clients: new Map(), stdbuf: new Map() };
  const outcomes: DatabaseOutcome[] = await pool(run, config.databases.parallel, async (database, index) => {
    const captured = captureHost(context.host, database, config.databases.parallel > 1);
    const begin = performance.now();
    if (config.databases.parallel === 1) log.info(`── ${database} (${index + 1}/${run.length}) ──`);
    let failure: Pick<DatabaseOutcome, 'error' | 'phase'> | undefined;
    try {
      // Once the run is cancelled, the databases not started yet are not started.
      if (context.signal.aborted)
        throw new ActionError('Cancelled before this database started.', DEFAULT_PHASE[config.command]);
      await single(databaseConfig(config, database, index), { ...context, host: captured.host, probes });
    } catch (error) {
      failure = {
        error: redact(errorMessage(error), context.secrets),
        phase: error instanceof ActionError ? error.phase : DEFAULT_PHASE[config.command],
      };
      captured.host.log.warning(`${database}: ${failure.error}`);
    }
    outputs[index] = captured.outputs;
    return outcomeOf(database, captured, (performance.now() - begin) / 1000, failure);
  });
  if (config.command === 'backup' && config.dump.globals && outcomes[0]?.status === 'failed')
    log.warning(
      `The first database, ${run[0]}, failed: the globals (roles, tablespaces), stored beside its archive, may be missing from this run.`,
    );
  const all = [
    ...outcomes,
    ...skipped.map((database): DatabaseOutcome => ({ database, status: 'skipped', seconds: 0 })),
  ];
  const merged = mergeOutputs(outputs);
  if (config.command === 'drill' && outcomes.some((o) => o.status === 'failed')) merged['drill-passed'] = 'false';
  context.host.setOutputs({ ...merged, ...databasesOutputs(all) });
  if (config.summary) {
    const summary = databasesSummary(config.command, all, (performance.now() - started) / 1000);
    await context.host.writeSummary(redact(summary, context.secrets));
  }
  if (outcomes.some((o) => o.status === 'failed')) throw new DatabasesError(all, config.command);
  const key = outcomes.find((o) => o.key !== undefined)?.key;
  return key === undefined ? {} : { backupKey: key };
}

/**
 * A single-database backup, with its `backups-json` (a one-element array) set whether it succeeded
 * or failed. Rethrows the backup's error.
 */
export async function runWithBackupsJson(
  config: Config,
  context: RunContext,
  single: SingleRunner,
): Promise<CommandOutcome> {
  const captured = captureHost(context.host, config.database, false, true);
  const begin = performance.now();
  const publish = (failure?: Pick<DatabaseOutcome, 'error' | 'phase'>): void =>
    context.host.setOutputs(
      databasesOutputs([outcomeOf(config.database, captured, (performance.now() - begin) / 1000, failure)]),
    );
  try {
    const outcome = await single(config, { ...context, host: captured.host });
    publish();
    return outcome;
  } catch (error) {
    publish({ error: redact(errorMessage(error), context.secrets) });
    throw error;
  }
}

/** Which databases run, in order, and which `exclude-database` left out. */
async function resolve(
  config: Config & { databases: DatabaseSelection },
  log: Log,
  deps: ResolveDeps,
): Promise<{ run: string[]; skipped: string[] }> {
  const { mode, names, exclude } = config.databases;
  if (mode === 'list') {
    const run = notExcluded(names, exclude);
    return { run, skipped: names.filter((n) => !run.includes(n)) };
  }
  if (config.command === 'backup') {
    const { connection } = config;
    const found = await log.group('Databases of the server', () => deps.listServer(connection));
    const plan = planServerDatabases(found, exclude, connection.user);
    if (plan.unconnectableExcluded.length > 0)
      log.warning(
        `Skipped (the role "${connection.user}" may not connect to them; exclude-database leaves them out): ${plan.unconnectableExcluded.join(', ')}.`,
      );
    return { run: plan.run, skipped: plan.excluded };
  }
  const stored = await deps.listStored(config);
  const url = config.destinations[0]?.url ?? '';
  if (stored.length === 0)
    throw new ActionError(
      `database: all found no backups of any database in ${url} (no <database>/…manifest.json under its prefix). Check destination, or name the database.`,
      'select',
    );
  const run = notExcluded(stored, exclude);
  if (run.length === 0) throw new ConfigError('exclude-database', excludesEverything(stored));
  return { run, skipped: stored.filter((n) => !run.includes(n)) };
}

/**
 * One database's config: the single-database config of the command, with that database's name (and
 * for backup its connection). The globals are stored once per run, beside the first database's
 * archive. A drill of several databases restores each into a scratch database of its own:
 * `<target-database>_<database>` (or `_<n>` when that is longer than PostgreSQL's 63 bytes).
 */
export function databaseConfig(
  config: Config & { databases: DatabaseSelection },
  database: string,
  index: number,
): Config {
  const { databases: _databases, ...rest } = config;
  switch (rest.command) {
    case 'backup':
      return {
        ...rest,
        database,
        connection: { ...rest.connection, database },
        dump: { ...rest.dump, globals: rest.dump.globals && index === 0 },
      };
    case 'drill':
      return { ...rest, database, ...scratchTarget(rest, database, index) };
    default:
      return { ...rest, database };
  }
}

function scratchTarget(config: DrillConfig, database: string, index: number): Pick<DrillConfig, 'target' | 'confirm'> {
  const base = config.target.database;
  const named = `${base}_${database}`;
  const scratch = Buffer.byteLength(named) <= 63 ? named : `${base}_${index + 1}`;
  return {
    target: { ...config.target, database: scratch },
    ...(config.confirm === undefined ? {} : { confirm: config.confirm === base ? scratch : config.confirm }),
  };
}

/** What the host sees of one database's run: its outputs and summary kept, its log lines marked. */
interface CapturedHost {
  host: Host;
  outputs: Record<string, string>;
  summaries: string[];
}

/**
 * A host for one database's command. Outputs and the summary are kept (and passed through when
 * `passThrough`); in parallel each log line is prefixed `[<database>] ` and phases are plain lines
 * (groups cannot interleave), sequentially the phase groups are named with the database.
 */
function captureHost(host: Host, database: string, parallel: boolean, passThrough = false): CapturedHost {
  const outputs: Record<string, string> = {};
  const summaries: string[] = [];
  const mark = (line: string): string => (parallel ? `[${database}] ${line}` : line);
  const log: Log = passThrough
    ? host.log
    : {
        info: (message) => host.log.info(mark(message)),
        warning: (message) => host.log.warning(mark(message)),
        group: (name, fn) => {
          if (!parallel) return host.log.group(`[${database}] ${name}`, fn);
          host.log.info(mark(name));
          return fn();
        },
        ...(parallel || !host.log.progress ? {} : { progress: host.log.progress }),
      };
  const captured: Host = {
    ...host,
    log,
    debug: (message) => host.debug(mark(message)),
    setOutputs(values) {
      Object.assign(outputs, values);
      if (passThrough) host.setOutputs(values);
    },
    async writeSummary(markdown) {
      summaries.push(markdown);
      if (passThrough) await host.writeSummary(markdown);
    },
  };
  return { host: captured, outputs, summaries };
}

function outcomeOf(
  database: string,
  captured: CapturedHost,
  seconds: number,
  failure: Pick<DatabaseOutcome, 'error' | 'phase'> | undefined,
): DatabaseOutcome {
  const o = captured.outputs;
  const bytes = o['size-bytes'] === undefined || o['size-bytes'] === '' ? undefined : Number(o['size-bytes']);
  return {
    database,
    status: failure ? 'failed' : 'ok',
    ...(o['backup-key'] ? { key: o['backup-key'] } : {}),
    ...(o['manifest-key'] ? { manifestKey: o['manifest-key'] } : {}),
    ...(bytes === undefined || Number.isNaN(bytes) ? {} : { bytes }),
    ...(o['sha256'] ? { sha256: o['sha256'] } : {}),
    seconds,
    ...(failure?.error === undefined ? {} : { error: failure.error }),
    ...(failure?.phase === undefined ? {} : { phase: failure.phase }),
    ...(captured.summaries.length > 0 ? { summary: captured.summaries.join('\n') } : {}),
  };
}

const SUMMED_OUTPUTS = new Set(['pruned-count', 'kept-count']);

/** The run's outputs from each database's (in run order): see {@link runDatabases}. Pure. */
export function mergeOutputs(perDatabase: readonly (Record<string, string> | undefined)[]): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const outputs of perDatabase) {
    for (const [name, value] of Object.entries(outputs ?? {})) {
      const before = merged[name];
      if (before === undefined) merged[name] = value;
      else if (SUMMED_OUTPUTS.has(name)) merged[name] = String(Number(before) + Number(value));
      else if (name === 'drill-passed') merged[name] = before === 'true' && value === 'true' ? 'true' : 'false';
      else if (value.startsWith('[') && before.startsWith('['))
        merged[name] = JSON.stringify([...(JSON.parse(before) as unknown[]), ...(JSON.parse(value) as unknown[])]);
    }
  }
  return merged;
}

/** Runs `task` over `items`, at most `limit` at a time, results in the items' order. Never rejects unless a task does. */
async function pool<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
