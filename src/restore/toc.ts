/**
 * Table- and schema-level restore: which entries of an archive's table of contents to restore for
 * the `table`/`schema`/`exclude-table`/`exclude-schema` inputs, written as a pg_restore list
 * (`pg_restore -L`). pg_restore's own `-t` takes neither patterns nor schema-qualified names, and
 * leaves out the table's indexes, constraints and triggers (PostgreSQL docs, "pg_restore"); this
 * selection keeps them, like pg_dump's `-t`.
 *
 * Inputs: `pg_restore -l` (one line per entry: `id; catalog-oid oid DESC schema tag owner`) and
 * `pg_restore -s -v -f -` (the schema script, whose `-- TOC entry N` headers are followed by
 * `-- Dependencies: …` when the entry has any).
 *
 * Selection, for a fresh side database:
 * - roots: relations (tables, views, materialized views, foreign tables, sequences) matching a
 *   `table` pattern, or, without `table`, every entry of a schema matching a `schema` pattern (and
 *   the schema itself); `exclude-*` patterns remove roots;
 * - dependents (indexes, constraints, triggers, defaults, comments, ACLs, data, …): kept when they
 *   depend on a kept relation and everything else they depend on is kept or a prerequisite — so a
 *   foreign key to a table not restored is left out;
 * - prerequisites (schemas, types, domains, functions, collations, extensions, sequences) the kept
 *   entries depend on are added; a schema the target already has is not created again.
 * Pattern rules: those of the backup (postgres/patterns.ts); an unqualified table name matches in
 * every schema (the archive has no search_path).
 */
import { namePatternRegexes } from '../postgres/patterns.js';

/** One line of `pg_restore -l`. */
export interface TocEntry {
  id: number;
  desc: string;
  /** '-' for objects outside schemas. */
  schema: string;
  tag: string;
  /** The line as pg_restore printed it (written back into the list). */
  line: string;
}

/** The selection inputs (each a list of patterns). */
export interface TocSelection {
  tables: string[];
  schemas: string[];
  excludeTables: string[];
  excludeSchemas: string[];
}

/** Longest first: a description is matched before any shorter one it starts with. */
const DESCS = [
  'MATERIALIZED VIEW DATA',
  'SEQUENCE OWNED BY',
  'MATERIALIZED VIEW',
  'STATISTICS DATA',
  'CHECK CONSTRAINT',
  'FK CONSTRAINT',
  'FOREIGN TABLE',
  'INDEX ATTACH',
  'ROW SECURITY',
  'SEQUENCE SET',
  'TABLE ATTACH',
  'SECURITY LABEL',
  'DEFAULT ACL',
  'TABLE DATA',
  'BLOB DATA',
  'BLOBS',
  'LARGE OBJECT',
].concat(['CONSTRAINT', 'SEQUENCE', 'TABLE', 'VIEW', 'INDEX']);

const RELATIONS = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE', 'SEQUENCE']);
const PREREQUISITES = new Set([
  'SCHEMA',
  'TYPE',
  'DOMAIN',
  'FUNCTION',
  'PROCEDURE',
  'AGGREGATE',
  'COLLATION',
  'EXTENSION',
  'SEQUENCE',
]);
/** Entries found by their relation's schema and name (no dependencies in the schema script). */
const DATA = new Set(['TABLE DATA', 'SEQUENCE SET']);

/** Parses `pg_restore -l` output; comment lines (`;`) are skipped. Pure. */
export function parseTocList(text: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^(\d+); \d+ \d+ (.*)$/.exec(line);
    if (!m) continue;
    const rest = m[2] as string;
    const desc = DESCS.find((d) => rest.startsWith(`${d} `)) ?? rest.split(' ')[0] ?? '';
    const words = rest.slice(desc.length + 1).split(' ');
    const schema = words[0] ?? '-';
    const tag = words.slice(1, -1).join(' ');
    entries.push({ id: Number(m[1]), desc, schema, tag, line });
  }
  return entries;
}

/** Parses the `-- TOC entry N` / `-- Dependencies: a b` headers of `pg_restore -v` text output. Pure. */
export function parseDependencies(script: string): Map<number, number[]> {
  const deps = new Map<number, number[]>();
  let current: number | undefined;
  for (const line of script.split(/\r?\n/)) {
    const entry = /^-- TOC entry (\d+) /.exec(line);
    if (entry) {
      current = Number(entry[1]);
      continue;
    }
    const dep = /^-- Dependencies: ([\d ]+)$/.exec(line);
    if (dep && current !== undefined) deps.set(current, dep[1]!.trim().split(/\s+/).map(Number));
    if (!line.startsWith('--')) current = undefined;
  }
  return deps;
}

/** A compiled pattern: matches a (schema, name) pair. */
type Matcher = (schema: string, name: string) => boolean;

function tableMatcher(pattern: string): Matcher {
  const p = namePatternRegexes(pattern, 'table');
  const schema = p?.schema ? new RegExp(p.schema) : undefined;
  const name = p?.name ? new RegExp(p.name) : undefined;
  return (s, n) => (!schema || schema.test(s)) && (!name || name.test(n));
}

function schemaMatcher(pattern: string): (schema: string) => boolean {
  const p = namePatternRegexes(pattern, 'schema');
  const schema = p?.schema ? new RegExp(p.schema) : undefined;
  return (s) => !schema || schema.test(s);
}

/**
 * Entries of an excluded schema, excluded relations, and what depends on those (transitively).
 */
function excludedEntries(
  entries: TocEntry[],
  depsOf: (e: TocEntry) => number[],
  exTables: Matcher[],
  exSchemas: ((schema: string) => boolean)[],
): Set<number> {
  const excludedIds = new Set(
    entries
      .filter(
        (e) =>
          exSchemas.some((m) => m(e.desc === 'SCHEMA' ? e.tag : e.schema)) ||
          (RELATIONS.has(e.desc) && exTables.some((m) => m(e.schema, e.tag))),
      )
      .map((e) => e.id),
  );
  for (let grew = true; grew;) {
    grew = false;
    for (const e of entries) {
      if (excludedIds.has(e.id) || !depsOf(e).some((d) => excludedIds.has(d))) continue;
      excludedIds.add(e.id);
      grew = true;
    }
  }
  return excludedIds;
}

/** What {@link selectToc} decided. */
export interface TocChoice {
  /** Entry ids to restore. */
  keep: Set<number>;
  /** Inputs whose pattern matched nothing in the archive: [input, pattern]. */
  unmatched: [string, string][];
}

/**
 * The entries to restore for `selection` (see the module comment). Pure.
 * `existingSchemas`: schemas the target already has (their CREATE SCHEMA is left out).
 */
export function selectToc(
  entries: TocEntry[],
  deps: Map<number, number[]>,
  selection: TocSelection,
  existingSchemas: string[],
): TocChoice {
  const tables = selection.tables.map((t) => [t, tableMatcher(t)] as const);
  const schemas = selection.schemas.map((s) => [s, schemaMatcher(s)] as const);
  const exTables = selection.excludeTables.map(tableMatcher);
  const exSchemas = selection.excludeSchemas.map(schemaMatcher);
  const used = new Set<string>();
  const byId = new Map(entries.map((e) => [e.id, e]));
  const relationId = new Map(entries.filter((e) => RELATIONS.has(e.desc)).map((e) => [`${e.schema}.${e.tag}`, e.id]));
  const depsOf = (e: TocEntry): number[] => {
    if (DATA.has(e.desc)) {
      const rel = relationId.get(`${e.schema}.${e.tag}`);
      return rel === undefined ? [] : [rel];
    }
    return deps.get(e.id) ?? [];
  };
  const excludedIds = excludedEntries(entries, depsOf, exTables, exSchemas);
  const excluded = (e: TocEntry): boolean => excludedIds.has(e.id);
  const isRoot = (e: TocEntry): boolean => {
    if (excluded(e)) return false;
    if (tables.length > 0) {
      if (!RELATIONS.has(e.desc)) return false;
      const hit = tables.filter(([, m]) => m(e.schema, e.tag));
      hit.forEach(([t]) => used.add(`table:${t}`));
      return hit.length > 0;
    }
    const schemaOf = e.desc === 'SCHEMA' ? e.tag : e.schema;
    const hit = schemas.filter(([, m]) => m(schemaOf));
    hit.forEach(([s]) => used.add(`schema:${s}`));
    return schemas.length === 0 ? e.schema !== '-' : hit.length > 0;
  };
  const addPrerequisites = (id: number): void => {
    for (const d of deps.get(id) ?? []) {
      const dep = byId.get(d);
      if (!dep || keep.has(d) || !PREREQUISITES.has(dep.desc) || excluded(dep)) continue;
      keep.add(d);
      addPrerequisites(d);
    }
  };
  const keep = new Set(entries.filter(isRoot).map((e) => e.id));
  [...keep].forEach(addPrerequisites);
  for (let changed = true; changed;) {
    changed = false;
    for (const e of entries) {
      if (keep.has(e.id) || excluded(e) || (RELATIONS.has(e.desc) && !PREREQUISITES.has(e.desc))) continue;
      const ds = depsOf(e);
      const onKeptRelation = ds.some((d) => keep.has(d) && RELATIONS.has(byId.get(d)?.desc ?? ''));
      const rest = ds.every((d) => keep.has(d) || PREREQUISITES.has(byId.get(d)?.desc ?? ''));
      if (!onKeptRelation || !rest) continue;
      keep.add(e.id);
      addPrerequisites(e.id);
      changed = true;
    }
  }
  for (const e of entries) if (e.desc === 'SCHEMA' && existingSchemas.includes(e.tag)) keep.delete(e.id);
  const unmatched: [string, string][] = [
    ...selection.tables.filter((t) => !used.has(`table:${t}`)).map((t): [string, string] => ['table', t]),
    ...(tables.length > 0 ? [] : selection.schemas)
      .filter((s) => !used.has(`schema:${s}`))
      .map((s): [string, string] => ['schema', s]),
  ];
  return { keep, unmatched };
}

/** The pg_restore list (`-L`) restoring only `keep`, in the archive's order. Pure. */
export function tocListText(entries: TocEntry[], keep: Set<number>): string {
  return entries
    .filter((e) => keep.has(e.id))
    .map((e) => e.line)
    .join('\n')
    .concat('\n');
}

/** True when the selection restores only part of the archive. */
export function isPartial(selection: TocSelection | undefined): selection is TocSelection {
  return (
    selection !== undefined &&
    selection.tables.length +
      selection.schemas.length +
      selection.excludeTables.length +
      selection.excludeSchemas.length >
      0
  );
}
