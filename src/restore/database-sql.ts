/**
 * Pure SQL for recreating a database's recorded properties (see postgres/database-properties.ts):
 * the CREATE DATABASE options, then COMMENT, ALTER DATABASE … SET, GRANT/REVOKE and
 * ALTER ROLE … IN DATABASE … SET. Every name and value comes from a manifest (untrusted text) and is
 * quoted here as an identifier or a literal, never pasted (PostgreSQL docs, "Lexical Structure").
 */
import type { DatabaseProperties } from '../postgres/database-properties.js';

/** `"name"` with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string constant: `'…'` with quotes doubled, `E'…'` with backslashes doubled too when it has any. */
export function quoteLiteral(value: string): string {
  const quoted = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/** The locale-related parts of the properties that CREATE DATABASE can leave out (best-effort). */
export type LocalePart = 'encoding' | 'locale';

/**
 * `CREATE DATABASE name TEMPLATE template0 …` with the recorded encoding and locales (all of them
 * unless listed in `skip`). Owner, comment and the rest are applied after the restore.
 */
export function createDatabaseSql(
  name: string,
  props: DatabaseProperties | undefined,
  skip: readonly LocalePart[] = [],
): string {
  const parts = [`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`];
  if (props && !skip.includes('encoding')) parts.push(`ENCODING ${quoteLiteral(props.encoding)}`);
  if (props && !skip.includes('locale')) {
    if (props.localeProvider !== 'libc') parts.push(`LOCALE_PROVIDER ${props.localeProvider}`);
    parts.push(`LC_COLLATE ${quoteLiteral(props.collate)}`, `LC_CTYPE ${quoteLiteral(props.ctype)}`);
    if (props.localeProvider === 'icu' && props.locale !== null) parts.push(`ICU_LOCALE ${quoteLiteral(props.locale)}`);
    if (props.localeProvider === 'builtin' && props.locale !== null)
      parts.push(`BUILTIN_LOCALE ${quoteLiteral(props.locale)}`);
    if (props.icuRules !== null) parts.push(`ICU_RULES ${quoteLiteral(props.icuRules)}`);
  }
  return parts.join(' ');
}

/** GUCs whose list value pg_dump quotes element by element (GUC_LIST_QUOTE). */
const LIST_QUOTED = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'shared_preload_libraries',
  'local_preload_libraries',
]);

/** Splits a GUC list value (`"$user", public`) into its elements, unquoting double-quoted ones. */
export function splitGucList(value: string): string[] {
  const items: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,]*?))\s*(?:,|$)/gy;
  let match: RegExpExecArray | null;
  while (re.lastIndex < value.length && (match = re.exec(value)) !== null) {
    items.push(match[1] !== undefined ? match[1].replace(/""/g, '"') : (match[2] ?? ''));
    if (match[0] === '') break;
  }
  return items;
}

/** `SET name TO value` for a `name=value` entry of pg_db_role_setting.setconfig, as pg_dump writes it. */
export function setClause(entry: string): string {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? entry : entry.slice(0, eq);
  const value = eq < 0 ? '' : entry.slice(eq + 1);
  const values = LIST_QUOTED.has(name.toLowerCase()) ? splitGucList(value) : [value];
  return `SET ${quoteIdent(name)} TO ${values.map(quoteLiteral).join(', ')}`;
}

/** One aclitem: grantee (null = PUBLIC), privilege letters (`C`, `T`, `c`), those with grant option, grantor. */
export interface AclItem {
  grantee: string | null;
  privileges: string;
  grantable: string;
  grantor: string;
}

/** Reads a role name of an aclitem text (double-quoted when it needs it) from `at`; returns it and the next index. */
function aclName(text: string, at: number): [string, number] {
  if (text[at] !== '"') {
    let end = at;
    while (end < text.length && text[end] !== '=' && text[end] !== '/') end++;
    return [text.slice(at, end), end];
  }
  let name = '';
  let i = at + 1;
  while (i < text.length) {
    if (text[i] === '"' && text[i + 1] === '"') {
      name += '"';
      i += 2;
    } else if (text[i] === '"') return [name, i + 1];
    else name += text[i++];
  }
  throw new Error(`unterminated role name in aclitem ${JSON.stringify(text)}`);
}

/**
 * Parses an aclitem text (`grantee=privs/grantor`; PostgreSQL docs §5.8, "Privileges").
 * @throws Error when it is not one.
 */
export function parseAclItem(text: string): AclItem {
  const [grantee, eq] = aclName(text, 0);
  if (text[eq] !== '=') throw new Error(`not an aclitem: ${JSON.stringify(text)}`);
  const slash = text.indexOf('/', eq);
  const privs = text.slice(eq + 1, slash < 0 ? undefined : slash);
  const grantor = slash < 0 ? '' : aclName(text, slash + 1)[0];
  let privileges = '';
  let grantable = '';
  for (const ch of privs) {
    if (ch === '*') grantable += privileges.slice(-1);
    else privileges += ch;
  }
  return { grantee: grantee === '' ? null : grantee, privileges, grantable, grantor };
}

/** Database privileges by aclitem letter. */
const DATABASE_PRIVILEGES: Record<string, string> = { C: 'CREATE', T: 'TEMPORARY', c: 'CONNECT' };

/** The roles a set of properties names: owner, ACL grantees, per-role settings' roles. */
export function namedRoles(props: DatabaseProperties): string[] {
  const roles = new Set<string>([props.owner]);
  for (const item of props.acl ?? []) {
    const grantee = parseAclItem(item).grantee;
    if (grantee !== null) roles.add(grantee);
  }
  for (const r of props.roleSettings) roles.add(r.role);
  return [...roles].sort();
}

/** What {@link propertyStatements} applies. */
export interface ApplyChoice {
  /** Roles that exist on the target; statements naming other roles are left out. */
  existingRoles: ReadonlySet<string>;
  /** Apply the per-role settings (`restore-globals`). */
  roleSettings: boolean;
}

/**
 * The statements that give the database `name` its recorded owner, comment, connection limit,
 * settings and ACL (and per-role settings when chosen), run after the restore on a maintenance
 * connection. Pure.
 * @returns the statements, and the roles left out because they do not exist on the target.
 */
export function propertyStatements(
  name: string,
  props: DatabaseProperties,
  choice: ApplyChoice,
): { statements: string[]; missingRoles: string[] } {
  const db = quoteIdent(name);
  const missing = new Set<string>();
  const exists = (role: string): boolean => {
    if (choice.existingRoles.has(role)) return true;
    missing.add(role);
    return false;
  };
  const statements: string[] = [];
  if (exists(props.owner)) statements.push(`ALTER DATABASE ${db} OWNER TO ${quoteIdent(props.owner)}`);
  statements.push(`COMMENT ON DATABASE ${db} IS ${props.comment === null ? 'NULL' : quoteLiteral(props.comment)}`);
  statements.push(`ALTER DATABASE ${db} CONNECTION LIMIT ${Math.trunc(Number(props.connectionLimit))}`);
  for (const entry of props.settings) statements.push(`ALTER DATABASE ${db} ${setClause(entry)}`);
  if (props.acl !== null) {
    statements.push(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    if (choice.existingRoles.has(props.owner))
      statements.push(`REVOKE ALL ON DATABASE ${db} FROM ${quoteIdent(props.owner)}`);
    for (const text of props.acl) {
      const item = parseAclItem(text);
      if (item.grantee !== null && !exists(item.grantee)) continue;
      const to = item.grantee === null ? 'PUBLIC' : quoteIdent(item.grantee);
      const known = [...item.privileges].filter((p) => p in DATABASE_PRIVILEGES);
      const plain = known.filter((p) => !item.grantable.includes(p));
      const withOption = known.filter((p) => item.grantable.includes(p));
      const list = (letters: string[]): string => letters.map((p) => DATABASE_PRIVILEGES[p] ?? '').join(', ');
      if (plain.length > 0) statements.push(`GRANT ${list(plain)} ON DATABASE ${db} TO ${to}`);
      if (withOption.length > 0)
        statements.push(`GRANT ${list(withOption)} ON DATABASE ${db} TO ${to} WITH GRANT OPTION`);
    }
  }
  if (choice.roleSettings) {
    for (const r of props.roleSettings) {
      if (!exists(r.role)) continue;
      for (const entry of r.settings)
        statements.push(`ALTER ROLE ${quoteIdent(r.role)} IN DATABASE ${db} ${setClause(entry)}`);
    }
  }
  return { statements, missingRoles: [...missing].sort() };
}
