/**
 * The properties of a database itself — what `pg_dump --create` carries and a bare
 * `CREATE DATABASE` loses: encoding, locale provider and locales, ICU rules, owner, comment,
 * connection limit, ACL, `ALTER DATABASE … SET` and `ALTER ROLE … IN DATABASE … SET` settings.
 * Read from the shared catalogs pg_database, pg_db_role_setting and pg_shdescription
 * (PostgreSQL docs, "System Catalogs" §53; CREATE DATABASE in "SQL Commands").
 */

/** A node-pg like connection: enough to run one query. */
export interface Queryable {
  query<T extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    values?: unknown[],
  ): Promise<{ rows: T[] }>;
}

/** `libc` (the only provider before PostgreSQL 15), `icu` (15+) or `builtin` (17+). */
export type LocaleProvider = 'libc' | 'icu' | 'builtin';

/**
 * A database's own properties, as recorded in the manifest (`databaseProperties`). Setting values
 * are kept as PostgreSQL stores them (`name=value`); they are configuration every role of the
 * server can read in pg_db_role_setting, never a connection password.
 */
export interface DatabaseProperties {
  /** Server encoding name, e.g. `UTF8` (pg_encoding_to_char(encoding)). */
  encoding: string;
  localeProvider: LocaleProvider;
  /** LC_COLLATE / LC_CTYPE (libc locales; also set for ICU databases). */
  collate: string;
  ctype: string;
  /** ICU locale (daticulocale, PostgreSQL 15–16; datlocale 17+) or the builtin locale; null for libc. */
  locale: string | null;
  /** ICU tailoring rules (daticurules, PostgreSQL 16+); null when none. */
  icuRules: string | null;
  /** Name of the owning role. */
  owner: string;
  /** COMMENT ON DATABASE; null when none. */
  comment: string | null;
  /** datconnlimit: -1 for no limit. */
  connectionLimit: number;
  /** datacl as aclitem texts (`grantee=privileges/grantor`, empty grantee = PUBLIC); null = the default ACL. */
  acl: string[] | null;
  /** `ALTER DATABASE … SET` settings, `name=value` as in pg_db_role_setting.setconfig, sorted. */
  settings: string[];
  /** `ALTER ROLE … IN DATABASE … SET` settings per role, sorted by role. */
  roleSettings: { role: string; settings: string[] }[];
}

/** The pg_database columns of `versionNum`'s server (provider and ICU columns arrived in 15, 16 and 17). */
function propertiesSql(versionNum: number): string {
  const provider = versionNum >= 150000 ? 'd.datlocprovider::text' : `'c'`;
  const locale = versionNum >= 170000 ? 'd.datlocale' : versionNum >= 150000 ? 'd.daticulocale' : 'NULL::text';
  const rules = versionNum >= 160000 ? 'd.daticurules' : 'NULL::text';
  return `SELECT pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, ${provider} AS provider,
      d.datcollate AS collate, d.datctype AS ctype, ${locale} AS locale, ${rules} AS rules,
      pg_catalog.pg_get_userbyid(d.datdba) AS owner, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
      d.datconnlimit AS connlimit, d.datacl::text[] AS acl,
      (SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings,
      (SELECT coalesce(json_agg(json_build_object('role', r.rolname, 'settings', s.setconfig) ORDER BY r.rolname), '[]')
         FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
         WHERE s.setdatabase = d.oid) AS role_settings
    FROM pg_catalog.pg_database d WHERE d.datname = $1`;
}

const PROVIDERS: Record<string, LocaleProvider> = { c: 'libc', i: 'icu', b: 'builtin' };

/**
 * Reads the properties of `database` (default: the connection's current database) through `db`.
 * pg_database is a shared catalog: what is read is the committed state at the time of the query.
 * @throws Error when the database does not exist (or the server's answer has an unknown provider).
 */
export async function readDatabaseProperties(db: Queryable, database?: string): Promise<DatabaseProperties> {
  const { rows: version } = await db.query<{ num: string; name: string }>(
    `SELECT current_setting('server_version_num') AS num, current_database() AS name`,
  );
  const versionNum = Number(version[0]?.num);
  const name = database ?? String(version[0]?.name);
  const { rows } = await db.query<{
    encoding: string;
    provider: string;
    collate: string;
    ctype: string;
    locale: string | null;
    rules: string | null;
    owner: string;
    comment: string | null;
    connlimit: number;
    acl: string[] | null;
    settings: string[] | null;
    role_settings: { role: string; settings: string[] }[];
  }>(propertiesSql(versionNum), [name]);
  const row = rows[0];
  if (!row) throw new Error(`database '${name}' not found in pg_database`);
  const provider = PROVIDERS[row.provider];
  if (!provider) throw new Error(`unknown locale provider '${row.provider}' of database '${name}'`);
  return {
    encoding: row.encoding,
    localeProvider: provider,
    collate: row.collate,
    ctype: row.ctype,
    locale: provider === 'libc' ? null : (row.locale ?? null),
    icuRules: row.rules === '' ? null : (row.rules ?? null),
    owner: row.owner,
    comment: row.comment ?? null,
    connectionLimit: Number(row.connlimit),
    acl: row.acl ? [...row.acl].sort() : null,
    settings: [...(row.settings ?? [])].sort(),
    roleSettings: row.role_settings.map((r) => ({ role: r.role, settings: [...r.settings].sort() })),
  };
}

/** Setting names that say they hold a credential: their values are not recorded. */
const SECRET_NAME = /pass(word|wd)?|secret|token|api[_-]?key|credential|private[_-]?key/i;

/**
 * The properties without the settings that may hold a secret — a value containing `secret` (the
 * connection password, ≥ 4 characters) or a name such as `app.api_token` or `*.password` — and the
 * names of the settings removed: the manifest is stored unencrypted, also for encrypted archives.
 */
export function withoutSecret(
  properties: DatabaseProperties,
  secret: string | undefined,
): { properties: DatabaseProperties; removed: string[] } {
  const removed: string[] = [];
  const keep = (settings: string[]): string[] =>
    settings.filter((s) => {
      const name = s.split('=')[0] ?? '';
      if (!SECRET_NAME.test(name) && !(secret && secret.length >= 4 && s.includes(secret))) return true;
      removed.push(name);
      return false;
    });
  return {
    properties: {
      ...properties,
      settings: keep(properties.settings),
      roleSettings: properties.roleSettings.map((r) => ({ role: r.role, settings: keep(r.settings) })),
    },
    removed,
  };
}
