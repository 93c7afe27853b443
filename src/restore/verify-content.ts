/**
 * The drill's content checks (pure): a version-2 manifest's `content` record compared with what
 * the restored database holds, in categories (sequences, large objects, constraints, indexes,
 * triggers, materialized views), plus each table's fingerprint. Filter scoping as in verify.ts:
 * objects the archive does not hold are not expected.
 */
import type { Check, ContentRecord, Manifest } from '../manifest.js';
import type { CatalogState, LargeObjectsContent, SequenceValue, TableContent } from '../postgres/fingerprint.js';
import type { ArchiveScope } from './archive-scope.js';

/** What the drill read of the restored database for a version-2 manifest (fingerprints with the manifest's algorithm). */
export interface RestoredContent {
  /** server_version_num of the restored server. */
  serverVersionNum: number;
  /** Per table, rows and fingerprint; null when the restored server cannot compute the manifest's algorithm. */
  tables: TableContent[] | null;
  sequences: { schema: string; name: string; value: SequenceValue }[];
  largeObjects: LargeObjectsContent;
  catalog: CatalogState;
}

/** One category of the verdict: its checks and what they prove when all pass. */
export interface CategoryResult {
  /** `tables`, `objects`, `constraints`, `indexes`, `sequences`, `large objects`, `triggers`, `materialized views`, `drill-sql`, or another (e.g. `database properties`). */
  name: string;
  checks: Check[];
  /** For the summary's "Proven:" line when every check passed, e.g. `12 sequences`; undefined: nothing to claim. */
  proven?: string;
}

/** What decides whether an object is in the archive (verify.ts supplies them). */
export interface ContentScope {
  scope: ArchiveScope;
  /** tableInArchive for a relation (table, sequence, matview): true, false, or undefined (unknown). */
  inArchive(schema: string, name: string): boolean | undefined;
}

/**
 * Why table fingerprints cannot be compared across these servers, or undefined when they can.
 * Floats print in shortest-exact form from PostgreSQL 12 with extra_float_digits > 0 (17
 * significant digits before): a row with a float column reads differently across that boundary.
 */
export function fingerprintsIncomparable(manifest: Manifest, restored: RestoredContent): string | undefined {
  if (!restored.tables)
    return `the restored server cannot compute ${manifest.content?.algorithm ?? 'the'} fingerprints`;
  const source = manifest.server.versionNum;
  const target = restored.serverVersionNum;
  if (source < 120_000 !== target < 120_000)
    return `float output differs between PostgreSQL ${manifest.server.major} and ${Math.floor(target / 10_000)} (shortest-exact since 12): table fingerprints are not compared, row counts are`;
  return undefined;
}

/** The `content of schema.table` check (rows must already be expected and equal). */
export function tableContentCheck(name: string, recorded: TableContent, restored: TableContent): Check {
  const same = recorded.fingerprint === restored.fingerprint;
  return {
    name: `content of ${name}`,
    expected: `fingerprint ${recorded.fingerprint}`,
    actual: same ? `fingerprint ${restored.fingerprint}` : `fingerprint ${restored.fingerprint} (content differs)`,
    passed: same,
  };
}

function valueText(v: SequenceValue): string {
  return `${v.lastValue} (is_called ${v.isCalled})`;
}

/** Whether `v` is within the recorded bounds (exact when before equals after). */
export function sequenceWithin(before: SequenceValue, after: SequenceValue, v: SequenceValue): boolean {
  const [lo, hi] = [BigInt(before.lastValue), BigInt(after.lastValue)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) as [
    bigint,
    bigint,
  ];
  const value = BigInt(v.lastValue);
  if (value < lo || value > hi) return false;
  if (before.isCalled === after.isCalled) return v.isCalled === before.isCalled;
  return true;
}

function sequenceChecks(record: ContentRecord, restored: RestoredContent, cs: ContentScope): CategoryResult {
  const got = new Map(restored.sequences.map((s) => [`${s.schema}.${s.name}`, s.value]));
  const checks: Check[] = [];
  for (const s of record.sequences) {
    if (cs.inArchive(s.schema, s.name) === false) continue;
    const name = `${s.schema}.${s.name}`;
    const exact = s.before.lastValue === s.after.lastValue && s.before.isCalled === s.after.isCalled;
    const expected = exact ? valueText(s.before) : `between ${valueText(s.before)} and ${valueText(s.after)}`;
    const v = got.get(name);
    if (!v) {
      if (cs.inArchive(s.schema, s.name) === true)
        checks.push({ name: `sequence ${name}`, expected, actual: 'missing', passed: false });
      continue;
    }
    checks.push({
      name: `sequence ${name}`,
      expected,
      actual: valueText(v),
      passed: sequenceWithin(s.before, s.after, v),
    });
  }
  return { name: 'sequences', checks, proven: `${checks.length} sequences` };
}

function largeObjectChecks(record: ContentRecord, restored: RestoredContent, skipped: string[]): CategoryResult {
  const source = record.largeObjects;
  const target = restored.largeObjects;
  if (source.count === null) {
    skipped.push(`large objects: not recorded at backup (${source.reason})`);
    return { name: 'large objects', checks: [] };
  }
  if (target.count === null) {
    skipped.push(`large objects: the restored database's could not be read (${target.reason})`);
    return { name: 'large objects', checks: [] };
  }
  const checks: Check[] = [];
  if (source.objects && target.objects) {
    const after = new Map(target.objects.map((o) => [o.oid, o.md5]));
    for (const o of source.objects) {
      const md5 = after.get(o.oid);
      if (md5 !== o.md5)
        checks.push({
          name: `large object ${o.oid}`,
          expected: `md5 ${o.md5}`,
          actual: md5 === undefined ? 'missing' : `md5 ${md5}`,
          passed: false,
        });
    }
  }
  const same = source.count === target.count && source.fingerprint === target.fingerprint;
  checks.push({
    name: 'large objects',
    expected: `${source.count}, fingerprint ${source.fingerprint}`,
    actual: `${target.count}, fingerprint ${target.fingerprint}`,
    passed: same,
  });
  return { name: 'large objects', checks, proven: `${source.count} large objects` };
}

/** Recorded set vs restored set of names: one failing check per name missing or extra. */
function sameSet(what: string, expected: string[], actual: string[], missingText: string, extraText: string): Check[] {
  const want = new Set(expected);
  const have = new Set(actual);
  const checks: Check[] = [];
  for (const n of expected)
    if (!have.has(n)) checks.push({ name: `${what} ${n}`, expected: 'NOT VALID', actual: missingText, passed: false });
  for (const n of actual)
    if (!want.has(n)) checks.push({ name: `${what} ${n}`, expected: 'validated', actual: extraText, passed: false });
  return checks;
}

function inScope(cs: ContentScope, qualified: string): boolean {
  const [schema, rel] = qualified.split('.') as [string, string];
  return cs.inArchive(schema, rel ?? '') !== false;
}

function constraintChecks(record: ContentRecord, restored: RestoredContent, cs: ContentScope): CategoryResult {
  const expected = record.notValidConstraints.filter((n) => inScope(cs, n));
  const actual = restored.catalog.notValidConstraints.filter((n) => inScope(cs, n));
  const failures = sameSet(
    'constraint',
    expected,
    actual,
    'validated (NOT VALID in the source)',
    'NOT VALID (validated in the source)',
  );
  const checks: Check[] =
    failures.length > 0
      ? failures
      : [
          {
            name: 'NOT VALID constraints as in the source',
            expected: expected.length,
            actual: actual.length,
            passed: true,
          },
        ];
  return { name: 'constraints', checks, proven: `NOT VALID constraints as in the source (${expected.length})` };
}

function indexChecks(record: ContentRecord, restored: RestoredContent, skipped: string[]): CategoryResult {
  const invalid = restored.catalog.invalidIndexes;
  if (record.invalidIndexes.length > 0)
    skipped.push(
      `invalid indexes of the source are not dumped by pg_dump, so not expected: ${record.invalidIndexes.slice(0, 5).join(', ')}${record.invalidIndexes.length > 5 ? ', …' : ''}`,
    );
  const checks: Check[] = [
    {
      name: 'indexes valid',
      expected: 'all',
      actual: invalid.length === 0 ? 'all' : `invalid ${invalid.length}: ${invalid.slice(0, 5).join(', ')}`,
      passed: invalid.length === 0,
    },
  ];
  return { name: 'indexes', checks, proven: 'indexes valid' };
}

const TRIGGER_STATES: Record<string, string> = {
  O: 'enabled',
  D: 'disabled',
  R: 'enabled replica',
  A: 'enabled always',
};
const state = (s: string | undefined): string => (s === undefined ? 'missing' : (TRIGGER_STATES[s] ?? s));

function triggerChecks(
  record: ContentRecord,
  restored: RestoredContent,
  cs: ContentScope,
  objects: boolean,
): CategoryResult {
  const got = new Map(restored.catalog.triggers.map((t) => [`${t.schema}.${t.table}.${t.name}`, t.enabled]));
  const checks: Check[] = [];
  let n = 0;
  for (const t of record.triggers) {
    const known = cs.inArchive(t.schema, t.table);
    if (known === false) continue;
    const name = `${t.schema}.${t.table}.${t.name}`;
    const actual = got.get(name);
    if (actual === undefined && known === undefined) continue;
    n++;
    if (actual !== t.enabled)
      checks.push({ name: `trigger ${name}`, expected: state(t.enabled), actual: state(actual), passed: false });
  }
  if (objects) {
    const events = new Map(restored.catalog.eventTriggers.map((e) => [e.name, e.enabled]));
    for (const e of record.eventTriggers) {
      n++;
      const actual = events.get(e.name);
      if (actual !== e.enabled)
        checks.push({
          name: `event trigger ${e.name}`,
          expected: state(e.enabled),
          actual: state(actual),
          passed: false,
        });
    }
  }
  if (checks.length === 0)
    checks.push({ name: 'trigger states as in the source', expected: n, actual: n, passed: true });
  return { name: 'triggers', checks, proven: `${n} triggers` };
}

function matviewChecks(record: ContentRecord, restored: RestoredContent, cs: ContentScope): CategoryResult {
  const got = new Map(restored.catalog.matviews.map((m) => [`${m.schema}.${m.name}`, m.populated]));
  const checks: Check[] = [];
  for (const m of record.matviews) {
    const known = cs.inArchive(m.schema, m.name);
    const name = `${m.schema}.${m.name}`;
    const actual = got.get(name);
    if (known === false || (actual === undefined && known === undefined)) continue;
    const text = (p: boolean | undefined): string => (p === undefined ? 'missing' : p ? 'populated' : 'not populated');
    checks.push({
      name: `materialized view ${name}`,
      expected: text(m.populated),
      actual: text(actual),
      passed: actual === m.populated,
    });
  }
  return { name: 'materialized views', checks, proven: `${checks.length} materialized views` };
}

/**
 * The content categories of a version-2 drill, in order: sequences, large objects (data archived),
 * constraints, indexes, triggers, materialized views (data archived). Notes on what was not
 * compared go to `skipped`.
 */
export function contentCategories(
  record: ContentRecord,
  restored: RestoredContent,
  cs: ContentScope,
  largeObjectsArchived: boolean,
  skipped: string[],
): CategoryResult[] {
  const data = cs.scope.rowsKnown;
  const out: CategoryResult[] = [];
  if (data) out.push(sequenceChecks(record, restored, cs));
  else skipped.push(`sequence values: ${cs.scope.noRowsReason ?? 'no data in the archive'}`);
  if (data && largeObjectsArchived) out.push(largeObjectChecks(record, restored, skipped));
  else if (record.largeObjects.count) skipped.push('large objects: not in the archive (filtered dump or no data)');
  out.push(constraintChecks(record, restored, cs));
  out.push(indexChecks(record, restored, skipped));
  out.push(triggerChecks(record, restored, cs, cs.scope.objectsComparable));
  if (data) out.push(matviewChecks(record, restored, cs));
  return out;
}
