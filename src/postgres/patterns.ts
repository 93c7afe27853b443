/**
 * pg_dump's object name patterns (`--schema`, `--table`), turned into the regular expressions
 * pg_dump itself matches against the catalog: PostgreSQL docs, psql "Patterns", as implemented by
 * processSQLNamePattern (src/fe_utils/string_utils.c). Used to find, before pg_dump runs, a
 * `schema`/`table` pattern that matches nothing, and to name it.
 *
 * Rules: outside double quotes letters fold to lower case, `*` means any sequence, `?` any one
 * character, `.` separates database/schema/name, `$` is literal, other regular-expression characters
 * pass through as they are; inside double quotes everything is literal (`""` is a quote). Each part
 * is anchored (`^(…)$`).
 */

/** A pattern split into the regexes of its parts; undefined part = not given. */
export interface NamePattern {
  /** Regex for the database part (`db.schema.table`): pg_dump requires it to be the current database. */
  database?: string;
  /** Regex for the schema (for a table pattern `schema.table`; for a schema pattern, the pattern itself). */
  schema?: string;
  /** Regex for the object's name (tables only). */
  name?: string;
}

const REGEX_SPECIALS = '|*+?()[]{}.^$\\';

/**
 * Splits and converts one pattern. `kind` is `schema` (up to `db.schema`) or `table` (up to
 * `db.schema.table`). Returns undefined when the pattern has more dot-separated parts than pg_dump
 * accepts (pg_dump then fails with "improper qualified name").
 */
export function namePatternRegexes(pattern: string, kind: 'schema' | 'table'): NamePattern | undefined {
  const parts: string[] = [''];
  let inQuotes = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    let out: string;
    if (ch === '"') {
      if (inQuotes && pattern[i + 1] === '"') {
        out = '"';
        i++;
      } else {
        inQuotes = !inQuotes;
        continue;
      }
    } else if (!inQuotes && ch >= 'A' && ch <= 'Z') out = ch.toLowerCase();
    else if (!inQuotes && ch === '*') out = '.*';
    else if (!inQuotes && ch === '?') out = '.';
    else if (!inQuotes && ch === '.') {
      parts.push('');
      continue;
    } else if (ch === '$') out = '\\$';
    else out = inQuotes && REGEX_SPECIALS.includes(ch) ? `\\${ch}` : ch;
    parts[parts.length - 1] += out;
  }
  const anchored = parts.map((part) => `^(${part})$`);
  if (kind === 'schema') {
    if (anchored.length > 2) return undefined;
    return anchored.length === 2
      ? { database: anchored[0] as string, schema: anchored[1] as string }
      : { schema: anchored[0] as string };
  }
  if (anchored.length > 3) return undefined;
  if (anchored.length === 3)
    return { database: anchored[0] as string, schema: anchored[1] as string, name: anchored[2] as string };
  if (anchored.length === 2) return { schema: anchored[0] as string, name: anchored[1] as string };
  return { name: anchored[0] as string };
}

/** Relation kinds `--table` selects (pg_dump's expand_table_name_patterns): tables, sequences, views, matviews, foreign and partitioned tables. */
export const TABLE_PATTERN_RELKINDS = ['r', 'S', 'v', 'm', 'f', 'p'] as const;

/**
 * One SQL query answering, for each pattern, whether it matches anything, as pg_dump would match it.
 * A table pattern without a schema matches only tables visible in the search path
 * (pg_table_is_visible), as in pg_dump. Parameters: $1 = JSON array of
 * `{ kind, database?, schema?, name? }` regexes (absent = not given). Returns one row per pattern,
 * in order: `index` (0-based) and `matched`.
 */
export const PATTERN_MATCH_SQL = `
  SELECT (p.ord - 1)::int AS index,
         CASE
           WHEN p.e->>'database' IS NOT NULL AND NOT current_database() ~ (p.e->>'database') THEN false
           WHEN p.e->>'kind' = 'schema' THEN EXISTS (
             SELECT 1 FROM pg_catalog.pg_namespace n
             WHERE n.nspname OPERATOR(pg_catalog.~) (p.e->>'schema') COLLATE pg_catalog.default)
           ELSE EXISTS (
             SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN (${TABLE_PATTERN_RELKINDS.map((k) => `'${k}'`).join(', ')})
               AND c.relname OPERATOR(pg_catalog.~) (p.e->>'name') COLLATE pg_catalog.default
               AND CASE WHEN p.e->>'schema' IS NULL THEN pg_catalog.pg_table_is_visible(c.oid)
                        ELSE n.nspname OPERATOR(pg_catalog.~) (p.e->>'schema') COLLATE pg_catalog.default END)
         END AS matched
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS p(e, ord)
  ORDER BY p.ord`;

/**
 * The regex of one database-name pattern, as pg_dumpall's `--exclude-database` matches it against
 * `pg_database.datname` (expand_dbname_patterns: the psql pattern rules, without any dot-qualified
 * part). Returns undefined for a pattern with a dot outside double quotes (pg_dumpall refuses it as
 * "improper qualified name (too many dotted names)"), or one whose regex is not valid.
 */
export function databasePatternRegex(pattern: string): RegExp | undefined {
  const parts = namePatternRegexes(pattern, 'schema');
  if (parts === undefined || parts.database !== undefined || parts.schema === undefined) return undefined;
  try {
    return new RegExp(parts.schema, 'u');
  } catch {
    return undefined;
  }
}

/**
 * The names that none of `patterns` matches, in their order (pg_dumpall `--exclude-database`).
 * Patterns must be valid ({@link databasePatternRegex}); an invalid one matches nothing.
 */
export function notExcluded(names: readonly string[], patterns: readonly string[]): string[] {
  const regexes = patterns.map(databasePatternRegex).filter((r): r is RegExp => r !== undefined);
  return names.filter((name) => !regexes.some((r) => r.test(name)));
}
