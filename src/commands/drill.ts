/**
 * `command: drill`: "a backup that was never restored is not a backup". Restores the chosen backup
 * into a scratch database and verifies it against the manifest (see restore/verify.ts), then drops
 * the scratch database (`drop-after`). Reports every check in the log and the job summary.
 */
import { ActionError, ConfigError, errorMessage } from '../errors.js';
import type { Manifest } from '../manifest.js';
import type { Connection } from '../postgres/types.js';
import type { DrillConfig } from '../config/types.js';
import {
  judgeSqlResult,
  shorten,
  verifyDrill,
  type Check,
  type RestoredState,
  type SqlOutcome,
} from '../restore/verify.js';
import { formatBytes, round3 } from '../format.js';
import {
  chooseBackup,
  confirmMessage,
  decrypterFor,
  dropDatabase,
  dropDatabaseSql,
  openTarget,
  requireGlobals,
  quoteIdent,
  restoreChosen,
  restoreClient,
  userTableCount,
  withMaintenance,
  type RestoreDeps,
  type TargetDb,
} from './restore.js';

/** A drill's outcome (outputs and summary are made from it). */
export interface DrillResult {
  key: string;
  url: string;
  manifest: Manifest;
  target: { host: string; port: number; database: string };
  checks: Check[];
  /** What was not checked, and why. */
  skipped: string[];
  passed: boolean;
  /** RTO: wall seconds from the start of the download to the verified database. */
  restoreSeconds: number;
  /** Of which: verifying the restored database. */
  verifySeconds: number;
  /** Stored archive bytes. */
  archiveBytes: number;
  /** Archive bytes per second over download and restore. */
  throughput: number;
  mode: string;
  pgRestoreVersion: string;
  /** The scratch database was dropped afterwards. */
  dropped: boolean;
}

/** A drill ran and some check failed; `result` holds every check (for the summary). */
export class DrillError extends ActionError {
  constructor(
    message: string,
    readonly result: DrillResult,
  ) {
    super(message, 'drill');
  }
}

/**
 * `command: drill`. Steps: choose the backup; check the decryption key, globals file and
 * pg_restore; prepare the scratch database (create it when missing;
 * when it exists with user tables, refuse unless `confirm` equals its name, then drop and recreate
 * it); restore it as `restore` does (digest verified while streaming, first error stops); verify;
 * drop the scratch database when `dropAfter` (also after a failure).
 *
 * @throws DrillError (a check failed; `result` has them all), ConfigError ('confirm', a data-only
 *   archive), and the errors of restore (BackupNotFoundError, ConnectionError, ClientInstallError,
 *   CorruptArchiveError, RestoreError).
 */
export async function runDrill(options: DrillConfig, deps: RestoreDeps): Promise<DrillResult> {
  const { log } = deps;
  const target = options.target;
  const chosen = await log.group('Select backup', () => chooseBackup(options, options.backup, deps));
  const { manifest, entry } = chosen;
  const decrypter = await decrypterFor(chosen, options.decryption, deps);
  if (options.restoreGlobals) requireGlobals(chosen);
  if (manifest.options.dataOnly) {
    throw new ConfigError(
      'backup-key',
      `the backup ${entry.key} is data-only (data-only: true): it holds no tables to restore into a scratch database, so it cannot be drilled. Drill a backup with the schema.`,
    );
  }

  const client = await log.group('PostgreSQL client', () => restoreClient(deps, manifest));

  let prepared = false;
  // Set once the drop was attempted, so that a failed drop is not tried (and warned about) twice.
  let dropTried = false;
  try {
    await log.group('Scratch database', async () => {
      await prepareScratch(deps, target, options.confirm);
      prepared = true;
    });
    const started = deps.now();
    const pgRestore = {
      clean: false,
      jobs: options.jobs,
      noOwner: options.noOwner,
      noPrivileges: options.noPrivileges,
      restoreGlobals: options.restoreGlobals,
    };
    const outcome = await restoreChosen(chosen, target, pgRestore, client, deps, decrypter);
    const restored = deps.now();
    const verdict = await log.group('Verify', async () => {
      const state = await readRestoredState(deps, target, options.drillSql);
      const v = verifyDrill(manifest, state);
      for (const check of v.checks) {
        const line = `${check.passed ? 'PASS' : 'FAIL'} ${check.name}: expected ${check.expected}, actual ${check.actual}${check.note ? ` (${check.note})` : ''}`;
        if (check.passed) log.info(line);
        else log.warning(line);
      }
      for (const note of v.skipped) log.info(`Not checked: ${note}`);
      return v;
    });
    const verified = deps.now();
    const restoreSeconds = round3((verified.getTime() - started.getTime()) / 1000);
    const downloadSeconds = (restored.getTime() - started.getTime()) / 1000;
    const result: DrillResult = {
      key: entry.key,
      url: chosen.store.destination.url,
      manifest,
      target: { host: target.host, port: target.port, database: target.database },
      checks: verdict.checks,
      skipped: verdict.skipped,
      passed: verdict.passed,
      restoreSeconds,
      verifySeconds: round3((verified.getTime() - restored.getTime()) / 1000),
      archiveBytes: outcome.bytes,
      throughput: outcome.bytes / Math.max(downloadSeconds, 0.001),
      mode: outcome.mode,
      pgRestoreVersion: client.version,
      dropped: false,
    };
    if (options.dropAfter) {
      dropTried = true;
      result.dropped = await dropScratch(deps, target);
    }
    const failed = result.checks.filter((c) => !c.passed);
    if (failed.length > 0) {
      throw new DrillError(
        `The restore drill of ${entry.key} failed ${failed.length} of ${result.checks.length} checks: ` +
          failed
            .slice(0, 5)
            .map((c) => `${c.name} (expected ${c.expected}, actual ${c.actual})`)
            .join('; ') +
          (failed.length > 5 ? `; and ${failed.length - 5} more` : '') +
          '. The backup does not restore to what was dumped.',
        result,
      );
    }
    log.info(`Drill passed: ${result.checks.length} checks, RTO ${restoreSeconds} s.`);
    return result;
  } finally {
    if (prepared && options.dropAfter && !dropTried) await dropScratch(deps, target);
  }
}

/**
 * Makes `target` an empty database: created when missing; an existing one with user tables is
 * dropped and recreated only when `confirm` equals its name.
 * @throws ConfigError('confirm') before touching anything.
 */
async function prepareScratch(deps: RestoreDeps, target: Connection, confirm: string | undefined): Promise<void> {
  const { log } = deps;
  await withMaintenance(deps, target, async (db, versionNum) => {
    const { rows } = await db.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [target.database]);
    if (rows.length > 0) {
      const tables = await userTableCount(deps, target);
      if (tables === 0) {
        log.info(`Using the existing, empty database '${target.database}'.`);
        return;
      }
      if (confirm !== target.database) throw new ConfigError('confirm', confirmMessage(target, tables, 'drill'));
      await db.query(dropDatabaseSql(target.database, versionNum));
      log.info(`Dropped '${target.database}' (${tables} user tables; confirmed).`);
    }
    await db.query(`CREATE DATABASE ${quoteIdent(target.database)} TEMPLATE template0`);
    log.info(`Created scratch database '${target.database}' on ${target.host}:${target.port}.`);
  });
}

/** Drops the scratch database; a failure is a warning (the drill's verdict stands). */
async function dropScratch(deps: RestoreDeps, target: Connection): Promise<boolean> {
  const failed = await dropDatabase(deps, target);
  if (failed) deps.log.warning(`Could not drop the scratch database '${target.database}': ${failed}. Drop it by hand.`);
  else deps.log.info(`Dropped scratch database '${target.database}'.`);
  return !failed;
}

const NOT_VALIDATED_SQL = `
  SELECT n.nspname AS schema, coalesce(c.relname, t.typname) AS rel, k.conname AS name
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
  WHERE NOT k.convalidated AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  ORDER BY 1, 2, 3`;

const INVALID_INDEXES_SQL = `
  SELECT n.nspname AS schema, i.relname AS name
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
  WHERE NOT x.indisvalid AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  ORDER BY 1, 2`;

const ANCESTORS_SQL = `
  WITH RECURSIVE up(child, parent) AS (
    SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits
    UNION
    SELECT up.child, i.inhparent FROM up JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.parent
  )
  SELECT cn.nspname AS schema, c.relname AS name, pn.nspname AS parent_schema, p.relname AS parent
  FROM up
  JOIN pg_catalog.pg_class c ON c.oid = up.child JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
  JOIN pg_catalog.pg_class p ON p.oid = up.parent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace`;

const UNLOGGED_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND c.relpersistence = 'u'`;

/** Reads what {@link verifyDrill} compares: counts via the inspector, the rest with SQL. */
async function readRestoredState(deps: RestoreDeps, target: Connection, drillSql: string[]): Promise<RestoredState> {
  const inspector = await deps.connect(target);
  let tables: RestoredState['tables'];
  let objects: RestoredState['objects'];
  try {
    const session = await inspector.openSnapshot();
    try {
      [tables, objects] = await Promise.all([session.rowCounts('exact'), session.catalogCounts()]);
    } finally {
      await session.close();
    }
  } finally {
    await inspector.close();
  }
  const db = await (deps.connectTarget ?? openTarget)(target);
  try {
    const notValidated = (await db.query<{ schema: string; rel: string; name: string }>(NOT_VALIDATED_SQL)).rows.map(
      (r) => `${r.schema}.${r.rel}.${r.name}`,
    );
    const invalidIndexes = (await db.query<{ schema: string; name: string }>(INVALID_INDEXES_SQL)).rows.map(
      (r) => `${r.schema}.${r.name}`,
    );
    const ancestors: Record<string, string[]> = {};
    for (const r of (
      await db.query<{ schema: string; name: string; parent_schema: string; parent: string }>(ANCESTORS_SQL)
    ).rows) {
      (ancestors[`${r.schema}.${r.name}`] ??= []).push(`${r.parent_schema}.${r.parent}`);
    }
    const unlogged = (await db.query<{ schema: string; name: string }>(UNLOGGED_SQL)).rows.map(
      (r) => `${r.schema}.${r.name}`,
    );
    const sql: SqlOutcome[] = [];
    for (const query of drillSql) sql.push(await runAssertion(db, query));
    return { tables, objects, notValidatedConstraints: notValidated, invalidIndexes, ancestors, unlogged, sql };
  } finally {
    await db.close();
  }
}

/**
 * Runs one `drill-sql` query in a READ ONLY transaction (rolled back), with the extended protocol
 * so one query is exactly one statement.
 */
async function runAssertion(db: TargetDb, query: string): Promise<SqlOutcome> {
  try {
    await db.query('BEGIN READ ONLY');
    const { rows, fieldCount } = await db.query(query, []);
    return judgeSqlResult(query, rows, fieldCount);
  } catch (error) {
    return { query, passed: false, actual: `error: ${shorten(errorMessage(error), 120)}` };
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
  }
}

/** Step outputs of `command: drill` (names as in action.yml). */
export function drillOutputs(result: DrillResult): Record<string, string> {
  return {
    'restored-key': result.key,
    'restore-seconds': String(result.restoreSeconds),
    'drill-passed': String(result.passed),
  };
}

/** Rows of the checks table shown in the summary at most (failed checks always shown). */
const SUMMARY_MAX_ROWS = 200;

function cell(value: string | number): string {
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Markdown for the job summary: verdict, RTO, size, throughput, and a table of the checks. */
export function drillSummary(result: DrillResult): string {
  const m = result.manifest;
  const failed = result.checks.filter((c) => !c.passed);
  const passed = result.checks.filter((c) => c.passed);
  const shown = [...failed, ...passed.slice(0, Math.max(0, SUMMARY_MAX_ROWS - failed.length))];
  const facts: [string, string][] = [
    [
      'Verdict',
      result.passed
        ? `✅ passed (${result.checks.length} checks)`
        : `❌ failed (${failed.length} of ${result.checks.length} checks)`,
    ],
    ['Backup', `\`${result.key}\` (${result.url}), taken ${m.startedAt}`],
    [
      'Scratch database',
      `\`${result.target.database}\` on ${result.target.host}:${result.target.port}${result.dropped ? ' (dropped)' : ''}`,
    ],
    ['RTO', `${result.restoreSeconds} s (download to verified; verification ${result.verifySeconds} s)`],
    ['Archive size', `${formatBytes(result.archiveBytes)} (${result.archiveBytes} bytes), SHA-256 verified`],
    ['Throughput', `${formatBytes(result.throughput)}/s`],
    ['Format', `${m.format} via ${result.mode}; pg_restore ${result.pgRestoreVersion}`],
  ];
  const lines = [
    `## PostgreSQL restore drill: ${m.database}`,
    '',
    '| | |',
    '|---|---|',
    ...facts.map(([k, v]) => `| ${k} | ${cell(v)} |`),
    '',
    '| Check | Expected | Actual | Result |',
    '|---|---|---|---|',
    ...shown.map(
      (c) =>
        `| ${cell(c.name)}${c.note ? ` (${cell(c.note)})` : ''} | ${cell(c.expected)} | ${cell(c.actual)} | ${c.passed ? '✅' : '❌'} |`,
    ),
  ];
  if (shown.length < result.checks.length)
    lines.push('', `… and ${result.checks.length - shown.length} more passed checks (see the log).`);
  if (result.skipped.length > 0) lines.push('', '**Not checked**', '', ...result.skipped.map((s) => `- ${s}`));
  return `${lines.join('\n')}\n`;
}
