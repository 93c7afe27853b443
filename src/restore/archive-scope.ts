/**
 * What the archive of a backup holds, derived from the manifest's options (pure), for the drill.
 *
 * The manifest's counts cover the whole source database whatever filters the dump used; the
 * filters are in `manifest.options`, so the tables the archive holds are derived from them:
 * - `table` (pg_dump -t): only matching tables; `schema` (-n) / `exclude-schema` (-N) /
 *   `exclude-table` (-T) otherwise (pg_dump docs: -n and -N have no effect when -t is used);
 * - `exclude-table-data` (and `--exclude-table-data-and-children` in pg-dump-args): the table is
 *   there, its rows are not checked; `schema-only` (and `--no-data`): no row checks at all;
 * - `--no-unlogged-table-data`: rows of unlogged tables are not checked;
 * - `--table-and-children`, `--exclude-table-and-children`: which partitions and children were
 *   dumped is not in the manifest, so tables missing from the restore are not reported;
 * - `--filter`, `--section`, `--statistics-only`, `--no-schema`: what the archive holds is not
 *   known; table and row checks are skipped.
 * Object counts (indexes, constraints, views, …) are compared only for unfiltered dumps.
 *
 * Patterns follow pg_dump's (psql's) rules in a simplified form: `schema.table` or `table`,
 * unquoted letters folded to lower case, `"..."` literal, `*` any text, `?` one character; other
 * characters are literal (pg_dump would read them as regular expressions). An unqualified pattern
 * matches the table in any schema (pg_dump: in schemas on the search path).
 */
import type { Manifest } from '../manifest.js';

/** How far the manifest's options tell what the archive holds. */
export interface ArchiveScope {
  /** False when pg-dump-args make the set of dumped tables unknowable. */
  tablesKnown: boolean;
  /** False when no table's rows are expected (schema-only, --no-data) or they cannot be known. */
  rowsKnown: boolean;
  /** Why rows are not checked, when `rowsKnown` is false. */
  noRowsReason?: string;
  /** True when the dump was not filtered, so the manifest's object counts apply. */
  objectsComparable: boolean;
  /** Why tables, rows or objects are not (fully) checked. */
  reasons: string[];
}

/** The option names of `extraArgs` (`--name` or `--name=value`) with their values. */
function extraOptions(extraArgs: string[]): { name: string; value: string }[] {
  return extraArgs
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const eq = a.indexOf('=');
      return eq === -1 ? { name: a.slice(2), value: '' } : { name: a.slice(2, eq), value: a.slice(eq + 1) };
    });
}

/** Derives {@link ArchiveScope} from `manifest.options`. */
export function archiveScope(manifest: Manifest): ArchiveScope {
  const o = manifest.options;
  const extra = extraOptions(o.extraArgs ?? []);
  const has = (name: string): boolean => extra.some((e) => e.name === name);
  const reasons: string[] = [];
  let tablesKnown = true;
  let rowsKnown = manifest.rowCounts.mode === 'exact';
  let noRowsReason: string | undefined = rowsKnown ? undefined : 'row count is an estimate';
  if (!rowsKnown)
    reasons.push(
      'row counts in the manifest are estimates (row-counts: estimate): tables are checked for presence only',
    );
  const opaqueAll = ['filter', 'section', 'statistics-only', 'no-schema'].filter(has);
  if (opaqueAll.length > 0) {
    tablesKnown = false;
    rowsKnown = false;
    noRowsReason = 'archive contents unknown';
    reasons.push(
      `pg-dump-args ${opaqueAll.map((n) => `--${n}`).join(', ')} make what the archive holds unknown: table and row checks are skipped`,
    );
  }
  const opaqueTables = ['table-and-children', 'exclude-table-and-children'].filter(has);
  if (opaqueTables.length > 0 && tablesKnown) {
    tablesKnown = false;
    reasons.push(
      `pg-dump-args ${opaqueTables.map((n) => `--${n}`).join(', ')}: tables missing from the restore are not reported (which children were dumped is not in the manifest)`,
    );
  }
  if (o.schemaOnly || has('no-data')) {
    if (rowsKnown) reasons.push('schema-only archive: no rows are expected, tables are checked for presence');
    rowsKnown = false;
    noRowsReason = 'schema-only archive';
  }
  const filtered =
    (o.tables ?? []).length > 0 ||
    (o.schemas ?? []).length > 0 ||
    (o.excludeSchemas ?? []).length > 0 ||
    (o.excludeTables ?? []).length > 0 ||
    opaqueTables.length > 0 ||
    opaqueAll.length > 0 ||
    o.dataOnly;
  if (filtered)
    reasons.push(
      'the dump was filtered (table/schema/exclude options): counts of indexes, constraints, views, functions and sequences cover the whole source database and are not compared',
    );
  return {
    tablesKnown,
    rowsKnown,
    ...(noRowsReason === undefined ? {} : { noRowsReason }),
    objectsComparable: !filtered,
    reasons,
  };
}

/** A compiled pg_dump-style name pattern. */
interface NamePattern {
  /** undefined: any schema. */
  schema?: RegExp;
  name: RegExp;
}

/**
 * Compiles a pg_dump `-t`/`-n` style pattern (see the module comment for the simplified rules).
 * `parts` is 2 for table patterns (`[db.]schema.table` or `table`), 1 for schema patterns.
 */
export function compilePattern(pattern: string, parts: 1 | 2 = 2): NamePattern {
  const pieces: string[] = [''];
  let quoted = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '"') {
      if (quoted && pattern[i + 1] === '"') {
        pieces[pieces.length - 1] += '"';
        i++;
      } else {
        quoted = !quoted;
      }
    } else if (quoted) {
      pieces[pieces.length - 1] += escapeRegExp(ch);
    } else if (ch === '.') {
      pieces.push('');
    } else if (ch === '*') {
      pieces[pieces.length - 1] += '.*';
    } else if (ch === '?') {
      pieces[pieces.length - 1] += '.';
    } else {
      pieces[pieces.length - 1] += escapeRegExp(ch.toLowerCase());
    }
  }
  const regex = (source: string): RegExp => new RegExp(`^(?:${source})$`, 's');
  if (parts === 1) return { name: regex(pieces[pieces.length - 1] as string) };
  const name = regex(pieces[pieces.length - 1] as string);
  if (pieces.length === 1) return { name };
  return { schema: regex(pieces[pieces.length - 2] as string), name };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True when table pattern `pattern` matches `schema.table`. */
export function matchesTable(pattern: string, schema: string, table: string): boolean {
  const p = compilePattern(pattern, 2);
  return p.name.test(table) && (p.schema === undefined || p.schema.test(schema));
}

/** True when schema pattern `pattern` matches `schema`. */
export function matchesSchema(pattern: string, schema: string): boolean {
  return compilePattern(pattern, 1).name.test(schema);
}

/**
 * Whether the archive holds the table: true, false (filtered out of the dump), or undefined when
 * pg-dump-args make it unknowable.
 */
export function tableInArchive(manifest: Manifest, schema: string, table: string): boolean | undefined {
  const o = manifest.options;
  const extra = extraOptions(o.extraArgs ?? []);
  if (
    extra.some((e) =>
      [
        'filter',
        'section',
        'statistics-only',
        'no-schema',
        'table-and-children',
        'exclude-table-and-children',
      ].includes(e.name),
    )
  ) {
    // Tables that plain patterns exclude are still known to be out.
    const out = (o.excludeTables ?? []).some((p) => matchesTable(p, schema, table));
    return out ? false : undefined;
  }
  const excluded = (o.excludeTables ?? []).some((p) => matchesTable(p, schema, table));
  if ((o.tables ?? []).length > 0) return (o.tables ?? []).some((p) => matchesTable(p, schema, table)) && !excluded;
  if ((o.schemas ?? []).length > 0 && !(o.schemas ?? []).some((p) => matchesSchema(p, schema))) return false;
  if ((o.excludeSchemas ?? []).some((p) => matchesSchema(p, schema))) return false;
  return !excluded;
}

/** A restored table as {@link rowsNotExpected} sees it. */
export interface RestoredTable {
  schema: string;
  table: string;
  /** The table's parents as `schema.table` (for the `-and-children` option). */
  ancestors: string[];
  unlogged: boolean;
}

/** Why the rows of a table are not expected (undefined: they are, and must equal the manifest's). */
export function rowsNotExpected(manifest: Manifest, scope: ArchiveScope, restored: RestoredTable): string | undefined {
  const { schema, table, ancestors, unlogged } = restored;
  if (!scope.rowsKnown) return scope.noRowsReason ?? 'archive contents unknown';
  const o = manifest.options;
  if ((o.excludeTableData ?? []).some((p) => matchesTable(p, schema, table)))
    return 'data excluded by exclude-table-data';
  const extra = extraOptions(o.extraArgs ?? []);
  for (const e of extra) {
    if (e.name === 'exclude-table-data' && matchesTable(e.value, schema, table))
      return 'data excluded by --exclude-table-data';
    if (e.name === 'exclude-table-data-and-children') {
      const self = matchesTable(e.value, schema, table);
      const parent = ancestors.some((a) => {
        const [s, t] = splitQualified(a);
        return matchesTable(e.value, s, t);
      });
      if (self || parent) return 'data excluded by --exclude-table-data-and-children';
    }
    if (e.name === 'no-unlogged-table-data' && unlogged)
      return 'unlogged table, data excluded by --no-unlogged-table-data';
  }
  return undefined;
}

function splitQualified(name: string): [string, string] {
  const dot = name.indexOf('.');
  return [name.slice(0, dot), name.slice(dot + 1)];
}

/** Whether the archive holds large objects (pg_dump: not with -n/-t unless --large-objects; not with --no-large-objects). */
export function largeObjectsArchived(manifest: Manifest): boolean {
  const o = manifest.options;
  const names = extraOptions(o.extraArgs ?? []).map((e) => e.name);
  if (names.some((n) => ['no-large-objects', 'no-blobs', 'filter', 'section', 'no-data'].includes(n))) return false;
  if (names.some((n) => n === 'large-objects' || n === 'blobs')) return true;
  return (o.tables ?? []).length === 0 && (o.schemas ?? []).length === 0;
}
