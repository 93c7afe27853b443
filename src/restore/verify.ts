/**
 * The drill's verdict (pure): what a restored database should hold according to the manifest —
 * its tables, their exact row counts and (manifest version 2) content fingerprints, the counts of
 * other objects, sequences, large objects, constraints, triggers — compared with what it holds,
 * by category. What the archive holds (filter scoping) is derived in archive-scope.ts.
 */
import type { Check, Manifest } from '../manifest.js';
import type { TableContent } from '../postgres/fingerprint.js';
import type { CatalogCounts, TableRowCount } from '../postgres/inspect.js';
import {
  contentCategories,
  fingerprintsIncomparable,
  tableContentCheck,
  type CategoryResult,
  type RestoredContent,
} from './verify-content.js';

export type { CategoryResult, RestoredContent } from './verify-content.js';
export {
  archiveScope,
  compilePattern,
  largeObjectsArchived,
  matchesSchema,
  matchesTable,
  rowsNotExpected,
  tableInArchive,
  type ArchiveScope,
  type RestoredTable,
} from './archive-scope.js';
import {
  archiveScope,
  largeObjectsArchived,
  rowsNotExpected,
  tableInArchive,
  type ArchiveScope,
} from './archive-scope.js';

/** A `drill-sql` assertion as run: passed when it returned one row with one boolean `true`. */
export interface SqlOutcome {
  query: string;
  passed: boolean;
  /** What it returned (`true`, `false`, `2 rows`, `error: …`). */
  actual: string;
}

/** What the restored database holds, read after the restore. */
export interface RestoredState {
  /** Exact row counts of its user tables (relkind r), as `rowCounts('exact')` returns them. */
  tables: TableRowCount[];
  objects: CatalogCounts;
  /** Constraints with `pg_constraint.convalidated = false`, as `schema.relation.constraint`. */
  notValidatedConstraints: string[];
  /** Indexes with `pg_index.indisvalid = false`, as `schema.index`. */
  invalidIndexes: string[];
  /** `schema.table` → its ancestors (partitioned parents, inheritance parents), as `schema.table`. */
  ancestors: Record<string, string[]>;
  /** Unlogged tables, as `schema.table`. */
  unlogged: string[];
  sql: SqlOutcome[];
  /** For a manifest with a content record: what the restored database holds of it. */
  content?: RestoredContent;
}

/** The verdict: every check, whether all passed, and what was not checked and why. */
export interface Verdict {
  checks: Check[];
  passed: boolean;
  /** Human-readable notes on what was skipped. */
  skipped: string[];
  /** The checks by category (`checks` is their concatenation); add one with {@link withCategory}. */
  categories: CategoryResult[];
}

/** Label of {@link CatalogCounts} fields in reports. */
const OBJECT_LABELS: Record<keyof CatalogCounts, string> = {
  tables: 'tables',
  partitionedTables: 'partitioned tables',
  indexes: 'indexes',
  constraints: 'constraints',
  views: 'views',
  materializedViews: 'materialized views',
  functions: 'functions',
  sequences: 'sequences',
};

/** How many names to show in one check's `actual`. */
const SHOWN_NAMES = 5;

function listNames(names: string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, SHOWN_NAMES).join(', ');
  return names.length > SHOWN_NAMES ? `${names.length}: ${shown}, …` : `${names.length}: ${shown}`;
}

/**
 * Compares the restored database with the manifest, by category ({@link CategoryResult}), in order:
 * 1. `tables`: each manifest table the archive holds: present, and (exact mode, data dumped) the
 *    same row count (`rows of schema.table`) and, for a version-2 manifest with content, the same
 *    fingerprint (`content of schema.table`); a missing table fails as `table schema.table`;
 * 2. `objects`: for unfiltered dumps, each object count of the manifest (`count of indexes`, …);
 * 3. version 1 (no content record): `constraints` (`constraints validated`: none NOT VALID) and
 *    `indexes` (`indexes valid`); version 2: the categories of {@link contentCategories}
 *    (sequences, large objects, constraints: the NOT VALID set equals the source's, indexes,
 *    triggers, materialized views);
 * 4. `drill-sql`: each assertion.
 * More categories (e.g. database properties) are added with {@link withCategory}.
 */
export function verifyDrill(manifest: Manifest, state: RestoredState): Verdict {
  const scope = archiveScope(manifest);
  const skipped = [...scope.reasons];
  const categories: CategoryResult[] = [tableCategory(manifest, state, scope, skipped)];
  if (scope.objectsComparable) {
    const checks: Check[] = [];
    for (const key of Object.keys(OBJECT_LABELS) as (keyof CatalogCounts)[]) {
      const expected = manifest.objects?.[key];
      if (typeof expected !== 'number') continue;
      const actual = state.objects[key];
      checks.push({ name: `count of ${OBJECT_LABELS[key]}`, expected, actual, passed: expected === actual });
    }
    categories.push({ name: 'objects', checks, proven: `${checks.length} object counts` });
  }
  const record = manifest.content;
  if (record && state.content) {
    const inArchive = (schema: string, name: string): boolean | undefined => tableInArchive(manifest, schema, name);
    categories.push(
      ...contentCategories(record, state.content, { scope, inArchive }, largeObjectsArchived(manifest), skipped),
    );
  } else {
    categories.push(...legacyCategories(state));
  }
  categories.push({
    name: 'drill-sql',
    checks: state.sql.map((outcome, i) => ({
      name: `drill-sql ${i + 1}: ${shorten(outcome.query, 80)}`,
      expected: 'true',
      actual: outcome.actual,
      passed: outcome.passed,
    })),
  });
  return fromCategories(categories, skipped);
}

/** The verdict made of `categories` (checks in category order). */
function fromCategories(categories: CategoryResult[], skipped: string[]): Verdict {
  const checks = categories.flatMap((c) => c.checks);
  return { checks, passed: checks.every((c) => c.passed), skipped, categories };
}

/**
 * `verdict` with one more category (e.g. `{ name: 'database properties', checks:
 * compareDatabaseProperties(recorded, restored), proven: 'database properties' }`), inserted before
 * `drill-sql`; `checks` and `passed` recomputed. Pure.
 */
export function withCategory(verdict: Verdict, category: CategoryResult): Verdict {
  const at = verdict.categories.findIndex((c) => c.name === 'drill-sql');
  const categories = [...verdict.categories];
  categories.splice(at === -1 ? categories.length : at, 0, category);
  return fromCategories(categories, verdict.skipped);
}

/** Checks of a manifest without a content record (version 1, or `verify: counts`): as before. */
function legacyCategories(state: RestoredState): CategoryResult[] {
  return [
    {
      name: 'constraints',
      checks: [
        {
          name: 'constraints validated',
          expected: 'all',
          actual:
            state.notValidatedConstraints.length === 0
              ? 'all'
              : `not validated ${listNames(state.notValidatedConstraints)}`,
          passed: state.notValidatedConstraints.length === 0,
        },
      ],
    },
    {
      name: 'indexes',
      checks: [
        {
          name: 'indexes valid',
          expected: 'all',
          actual: state.invalidIndexes.length === 0 ? 'all' : `invalid ${listNames(state.invalidIndexes)}`,
          passed: state.invalidIndexes.length === 0,
        },
      ],
      proven: 'indexes valid',
    },
  ];
}

/** The `tables` category: presence, row counts and (content record) fingerprints. */
function tableCategory(
  manifest: Manifest,
  state: RestoredState,
  scope: ArchiveScope,
  skipped: string[],
): CategoryResult {
  const checks: Check[] = [];
  const restored = new Map(state.tables.map((t) => [`${t.schema}.${t.table}`, t.rows]));
  const unlogged = new Set(state.unlogged);
  const notInArchive: string[] = [];
  const unknown: string[] = [];
  const prints = contentPrints(manifest, state, skipped);
  let compared = 0;
  let rowsCompared = 0;
  for (const t of manifest.rowCounts.tables) {
    const name = `${t.schema}.${t.table}`;
    const inArchive = tableInArchive(manifest, t.schema, t.table);
    if (inArchive === false) {
      notInArchive.push(name);
      continue;
    }
    const rows = restored.get(name);
    if (rows === undefined) {
      if (inArchive === undefined) unknown.push(name);
      else checks.push({ name: `table ${name}`, expected: 'present', actual: 'missing', passed: false });
      continue;
    }
    const ancestors = state.ancestors[name] ?? [];
    const why = rowsNotExpected(manifest, scope, { ...t, ancestors, unlogged: unlogged.has(name) });
    if (why !== undefined) {
      const note = `rows not checked: ${why}`;
      checks.push({ name: `table ${name}`, expected: 'present', actual: 'present', passed: true, note });
      continue;
    }
    checks.push({ name: `rows of ${name}`, expected: t.rows, actual: rows, passed: rows === t.rows });
    const recorded = prints?.recorded.get(name);
    const now = prints?.restored.get(name);
    if (recorded && now) {
      checks.push(tableContentCheck(name, recorded, now));
      compared++;
      rowsCompared += recorded.rows;
    }
  }
  if (notInArchive.length > 0)
    skipped.push(`not in the archive (filtered out of the dump): ${listNames(notInArchive)}`);
  if (unknown.length > 0) skipped.push(`not restored, possibly filtered out by pg-dump-args: ${listNames(unknown)}`);
  const counted = checks.filter((c) => c.name.startsWith('rows of ')).length;
  const proven =
    compared > 0
      ? `${compared} tables content-identical (${rowsCompared.toLocaleString('en-US')} rows)`
      : counted > 0
        ? `${counted} tables with their row counts`
        : undefined;
  return { name: 'tables', checks, ...(proven === undefined ? {} : { proven }) };
}

/** The recorded and restored table fingerprints by `schema.table`, or undefined when they are not compared. */
function contentPrints(
  manifest: Manifest,
  state: RestoredState,
  skipped: string[],
): { recorded: Map<string, TableContent>; restored: Map<string, TableContent> } | undefined {
  if (!manifest.content || !state.content) return undefined;
  const record = manifest.content.tables;
  if (!record) {
    skipped.push(
      'table fingerprints: not recorded at backup (verify: counts, or row-counts: estimate): row counts are compared',
    );
    return undefined;
  }
  const why = fingerprintsIncomparable(manifest, state.content);
  if (why !== undefined || !state.content.tables) {
    skipped.push(`table fingerprints: ${why ?? 'not read'}`);
    return undefined;
  }
  const byName = (list: TableContent[]) => new Map(list.map((t) => [`${t.schema}.${t.table}`, t]));
  return { recorded: byName(record), restored: byName(state.content.tables) };
}

/** One line, at most `max` characters. */
export function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Judges one `drill-sql` result: passed only for exactly one row with exactly one column holding
 * the boolean `true` (node-pg returns SQL booleans as JS booleans).
 */
export function judgeSqlResult(query: string, rows: Record<string, unknown>[], fieldCount: number): SqlOutcome {
  if (rows.length !== 1) return { query, passed: false, actual: `${rows.length} rows` };
  if (fieldCount !== 1) return { query, passed: false, actual: `${fieldCount} columns` };
  const value = Object.values(rows[0] as Record<string, unknown>)[0];
  if (value === true) return { query, passed: true, actual: 'true' };
  return {
    query,
    passed: false,
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- any SQL value (a number, a date, a JSON object) is shown as String() renders it
    actual: value === null ? 'null' : typeof value === 'string' ? `'${shorten(value, 40)}'` : String(value),
  };
}
