/**
 * Recreating a backed-up database's own properties (manifest `databaseProperties`) when a restore
 * or a drill creates the database: what the target can take is checked before anything is created,
 * the database is created with its encoding and locales, and owner, comment, connection limit,
 * settings, ACL and (with restore-globals) per-role settings are applied once the archive is in.
 * The `database-properties` input chooses: `exact` (default) refuses a target that cannot take
 * them, `best-effort` leaves those out with a warning, `none` creates a bare database.
 */
import { ConfigError, errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import type { Check } from '../manifest.js';
import { readDatabaseProperties, type DatabaseProperties, type Queryable } from '../postgres/database-properties.js';
import type { Connection } from '../postgres/types.js';
import { compareDatabaseProperties } from './database-properties-check.js';
import { openTarget, withMaintenance, type TargetAccess } from './target.js';
import { createDatabaseSql, namedRoles, propertyStatements, quoteIdent, type LocalePart } from './database-sql.js';

/** The `database-properties` input. */
export type PropertiesMode = 'exact' | 'best-effort' | 'none';
export const PROPERTIES_MODES: readonly PropertiesMode[] = ['exact', 'best-effort', 'none'];

/** What the target server offers, read by {@link readCapabilities}. */
export interface TargetCapabilities {
  versionNum: number;
  /** pg_char_to_encoding(recorded encoding) ≥ 0. */
  encodingKnown: boolean;
  /** The server was built with ICU (it has ICU collations). */
  icu: boolean;
  /** ICU locales of pg_collation (colliculocale / colllocale). */
  icuLocales: ReadonlySet<string>;
  /** libc locales of pg_collation (collcollate), normalized by {@link normalizeLibcLocale}. */
  libcLocales: ReadonlySet<string>;
}

/** One property the target cannot take. */
export interface PropertyProblem {
  property: string;
  part: LocalePart;
  message: string;
}

/** `en_US.UTF-8` and `en_US.utf8` name the same libc locale. */
export function normalizeLibcLocale(name: string): string {
  const [base, codeset] = name.split('.', 2);
  return codeset === undefined ? name : `${base}.${codeset.toLowerCase().replace(/-/g, '')}`;
}

/** True for libc locales every server has. */
function alwaysThere(name: string): boolean {
  return ['C', 'POSIX', 'C.UTF-8', 'C.utf8'].includes(name);
}

/** An ICU locale without its `-u-…` keywords or `@…` modifiers (`und-u-ks-level2` → `und`). */
function icuBase(locale: string): string {
  return locale.split(/-u-|@/)[0] ?? locale;
}

/**
 * What of `props` the target described by `caps` cannot take, each naming the property and the fix.
 * Pure.
 */
export function propertyProblems(props: DatabaseProperties, caps: TargetCapabilities): PropertyProblem[] {
  const problems: PropertyProblem[] = [];
  const major = Math.floor(caps.versionNum / 10000);
  if (!caps.encodingKnown)
    problems.push({
      property: 'encoding',
      part: 'encoding',
      message: `encoding ${props.encoding} is unknown to the target`,
    });
  const locale = (property: string, message: string): void => void problems.push({ property, part: 'locale', message });
  if (props.localeProvider === 'icu' && major < 15)
    locale('locale provider', `locale provider icu needs PostgreSQL 15+ (the target is ${major})`);
  else if (props.localeProvider === 'icu' && !caps.icu)
    locale('locale provider', 'locale provider icu: the target server was built without ICU');
  else if (props.localeProvider === 'builtin' && major < 17)
    locale('locale provider', `locale provider builtin needs PostgreSQL 17+ (the target is ${major})`);
  if (props.localeProvider === 'icu' && caps.icu && major >= 15 && props.locale !== null) {
    const known = caps.icuLocales.has(props.locale) || caps.icuLocales.has(icuBase(props.locale));
    if (!known) locale('ICU locale', `ICU locale '${props.locale}' is not among the target's ICU collations`);
  }
  if (props.icuRules !== null && major < 16)
    locale('ICU rules', `ICU rules need PostgreSQL 16+ (the target is ${major})`);
  for (const [property, value] of [
    ['LC_COLLATE', props.collate],
    ['LC_CTYPE', props.ctype],
  ] as const) {
    if (!alwaysThere(value) && !caps.libcLocales.has(normalizeLibcLocale(value)))
      locale(property, `${property} '${value}' is not a locale of the target's operating system (pg_collation)`);
  }
  return problems;
}

/** Reads what {@link propertyProblems} needs from the target server (any database of it). */
export async function readCapabilities(db: Queryable, props: DatabaseProperties): Promise<TargetCapabilities> {
  const { rows } = await db.query<{ num: string; enc: number }>(
    `SELECT current_setting('server_version_num') AS num, pg_catalog.pg_char_to_encoding($1) AS enc`,
    [props.encoding],
  );
  const versionNum = Number(rows[0]?.num);
  const icuColumn = versionNum >= 170000 ? 'colllocale' : versionNum >= 150000 ? 'colliculocale' : 'NULL::text';
  const { rows: collations } = await db.query<{ provider: string; name: string | null }>(
    `SELECT collprovider::text AS provider, CASE WHEN collprovider = 'i' THEN ${icuColumn} ELSE collcollate END AS name
     FROM pg_catalog.pg_collation WHERE collprovider IN ('i', 'c')`,
  );
  const icuLocales = new Set<string>();
  const libcLocales = new Set<string>();
  for (const c of collations) {
    if (c.name === null) continue;
    if (c.provider === 'i') icuLocales.add(c.name);
    else libcLocales.add(normalizeLibcLocale(c.name));
  }
  return { versionNum, encodingKnown: Number(rows[0]?.enc) >= 0, icu: icuLocales.size > 0, icuLocales, libcLocales };
}

/**
 * CREATE DATABASE `name` on the maintenance connection `db` with the recorded encoding and locales
 * (`props` undefined: an older manifest, a bare database with an info line). Checks first.
 * @returns the parts left out (best-effort).
 * @throws ConfigError('database-properties') in mode `exact` when the target cannot take a
 *   property, before anything is created (the message names each property and the fix).
 */
export async function createDatabaseWithProperties(
  db: Queryable,
  name: string,
  props: DatabaseProperties | undefined,
  mode: PropertiesMode,
  log: Log,
): Promise<LocalePart[]> {
  if (!props || mode === 'none') {
    if (!props)
      log.info(
        'The backup records no database properties (an older manifest): creating the database with the server defaults.',
      );
    await db.query(createDatabaseSql(name, undefined));
    return [];
  }
  const problems = propertyProblems(props, await readCapabilities(db, props));
  if (problems.length > 0 && mode === 'exact') {
    throw new ConfigError(
      'database-properties',
      `the target server cannot create '${name}' with the source database's properties: ${problems.map((p) => `${p.property}: ${p.message}`).join('; ')}. Nothing was created. Install the locale (or ICU) on the target, restore into a server that has it, or set database-properties: best-effort to create the database with the target's defaults for these.`,
    );
  }
  for (const p of problems)
    log.warning(`Database property left out (database-properties: best-effort): ${p.property}: ${p.message}.`);
  const skip = [...new Set(problems.map((p) => p.part))];
  await db.query(createDatabaseSql(name, props, skip));
  log.info(
    `Created '${name}' with the source's encoding ${skip.includes('encoding') ? '(left out)' : props.encoding} and locale ${skip.includes('locale') ? '(left out)' : describeLocale(props)}.`,
  );
  return skip;
}

/** `icu de-DE` / `libc en_US.UTF-8`, for log lines. */
export function describeLocale(props: DatabaseProperties): string {
  return props.localeProvider === 'libc' ? `libc ${props.collate}` : `${props.localeProvider} ${props.locale ?? ''}`;
}

/** A statement of {@link propertyStatements} cut before any value (`… SET "name"`, `COMMENT ON DATABASE "d"`). */
export function statementWithoutValue(sql: string): string {
  return sql.replace(/ (TO|IS) .*$/s, '');
}

/**
 * Gives the database `name` (created by this run) its recorded owner, comment, connection limit,
 * settings and ACL, and per-role settings when `roleSettings` (restore-globals), on the
 * maintenance connection `db`. Roles missing on the target are left out with a warning naming them.
 * Logs names and counts, never setting values.
 * @returns the roles that were missing.
 */
export async function applyDatabaseProperties(
  db: Queryable,
  name: string,
  props: DatabaseProperties,
  options: { roleSettings: boolean; log: Log },
): Promise<string[]> {
  const roles = namedRoles(props);
  const { rows } = await db.query<{ rolname: string }>(
    'SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])',
    [roles],
  );
  const existingRoles = new Set(rows.map((r) => r.rolname));
  const { statements, missingRoles } = propertyStatements(name, props, {
    existingRoles,
    roleSettings: options.roleSettings,
  });
  const failed: string[] = [];
  for (const sql of statements) {
    try {
      await db.query(sql);
    } catch (error) {
      // The data is in: a property the server refuses (an extension's setting it does not know, …) is a
      // warning naming the statement without its value; a drill's check of that property then fails.
      failed.push(`${statementWithoutValue(sql)}: ${errorMessage(error)}`);
    }
  }
  if (failed.length > 0)
    options.log.warning(`Database properties the target refused (left as they are): ${failed.join('; ')}.`);
  if (missingRoles.length > 0) {
    options.log.warning(
      `Role(s) ${missingRoles.map(quoteIdent).join(', ')} named by the database's ${missingRoles.includes(props.owner) ? 'owner, ' : ''}ACL or settings do not exist on the target: left out. Create them first, or restore with restore-globals: true from a backup taken with globals: true.`,
    );
  }
  const roleSettingCount = props.roleSettings.reduce((n, r) => n + r.settings.length, 0);
  options.log.info(
    `Applied the database's properties: owner ${existingRoles.has(props.owner) ? props.owner : '(kept)'}, ${props.comment === null ? 'no comment' : 'comment'}, ${props.settings.length} setting(s), ${props.acl === null ? 'default ACL' : `ACL of ${props.acl.length} item(s)`}${options.roleSettings ? `, ${roleSettingCount} per-role setting(s)` : roleSettingCount > 0 ? `; ${roleSettingCount} per-role setting(s) need restore-globals: true` : ''}.`,
  );
  return missingRoles;
}

/** What {@link finishCreatedDatabase} needs. */
export interface FinishPlan {
  target: Connection;
  props: DatabaseProperties | undefined;
  mode: PropertiesMode;
  roleSettings: boolean;
  /** Parts left out at creation (from {@link createDatabaseWithProperties}). */
  skipped?: readonly LocalePart[];
}

/**
 * After the archive is restored into a database this run created: applies the recorded owner,
 * comment, settings, ACL (and per-role settings with restore-globals) on a maintenance connection.
 * @returns the roles missing on the target ([] when nothing was applied).
 */
export async function finishCreatedDatabase(deps: TargetAccess & { log: Log }, plan: FinishPlan): Promise<string[]> {
  const { props } = plan;
  if (!props || plan.mode === 'none') return [];
  return withMaintenance(deps, plan.target, (db) =>
    applyDatabaseProperties(db, plan.target.database, props, { roleSettings: plan.roleSettings, log: deps.log }),
  );
}

/**
 * The drill's checks of the restored database's properties against the manifest (none for an
 * older manifest without them), read on a connection to the restored database.
 */
export async function restoredPropertyChecks(
  deps: TargetAccess,
  plan: FinishPlan & { created: boolean; missingRoles: readonly string[] },
): Promise<Check[]> {
  if (!plan.props) return [];
  const db = await (deps.connectTarget ?? openTarget)(plan.target);
  try {
    const restored = await readDatabaseProperties(db);
    return compareDatabaseProperties(plan.props, restored, {
      created: plan.created,
      missingRoles: plan.missingRoles,
      roleSettings: plan.roleSettings,
      skipped: plan.mode === 'none' ? ['all'] : (plan.skipped ?? []),
    });
  } finally {
    await db.close();
  }
}

/** The database-properties steps of one restore or drill, bound to its target, manifest and options. */
export interface PropertySteps {
  /** CREATE DATABASE with the recorded properties ({@link createDatabaseWithProperties}); remembers what was left out. */
  create(db: Queryable): Promise<void>;
  /** {@link finishCreatedDatabase}, in a log group; the roles missing on the target. */
  finish(): Promise<string[]>;
  /** {@link restoredPropertyChecks}, each logged as PASS/FAIL. */
  checks(created: boolean, missingRoles: readonly string[]): Promise<Check[]>;
}

/** The steps for `target` of a restore or drill of a backup whose manifest recorded `props`. */
export function propertySteps(
  deps: TargetAccess & { log: Log },
  target: Connection,
  props: DatabaseProperties | undefined,
  options: { databaseProperties: PropertiesMode; restoreGlobals: boolean },
): PropertySteps {
  const { log } = deps;
  const plan: FinishPlan = { target, props, mode: options.databaseProperties, roleSettings: options.restoreGlobals };
  return {
    async create(db) {
      plan.skipped = await createDatabaseWithProperties(db, target.database, props, plan.mode, log);
    },
    finish: () => log.group('Database properties', () => finishCreatedDatabase(deps, plan)),
    async checks(created, missingRoles) {
      const checks = await restoredPropertyChecks(deps, { ...plan, created, missingRoles });
      for (const c of checks) {
        const line = `${c.passed ? 'PASS' : 'FAIL'} ${c.name}: expected ${c.expected}, actual ${c.actual}${c.note ? ` (${c.note})` : ''}`;
        if (c.passed) log.info(line);
        else log.warning(line);
      }
      return checks;
    },
  };
}
