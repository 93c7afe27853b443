import type { ContentRecord, Manifest } from '../../src/manifest.js';
import type { CatalogCounts } from '../../src/postgres/inspect.js';
import { provenLine } from '../../src/report/drill-report.js';
import { sequenceWithin } from '../../src/restore/verify-content.js';
import { verifyDrill, withCategory, type RestoredContent, type RestoredState } from '../../src/restore/verify.js';
import { manifestFixture } from '../support/manifest-fixture.js';

const OBJECTS: CatalogCounts = {
  tables: 2,
  partitionedTables: 0,
  indexes: 2,
  constraints: 3,
  views: 0,
  materializedViews: 1,
  functions: 1,
  sequences: 2,
};
const TABLES = [
  { schema: 'public', table: 'film', rows: 1000, fingerprint: '-123456789012345678901' },
  { schema: 'shop', table: 'orders', rows: 7, fingerprint: '42' },
];

function record(): ContentRecord {
  return {
    algorithm: 'sum-hashtextextended',
    settings: { TimeZone: 'UTC' },
    tables: TABLES.map((t) => ({ ...t })),
    sequences: [
      {
        schema: 'public',
        name: 'film_id_seq',
        before: { lastValue: '1000', isCalled: true },
        after: { lastValue: '1000', isCalled: true },
      },
      {
        schema: 'shop',
        name: 'orders_id_seq',
        before: { lastValue: '7', isCalled: true },
        after: { lastValue: '12', isCalled: true },
      },
    ],
    largeObjects: {
      count: 2,
      fingerprint: '99',
      objects: [
        { oid: 16400, md5: 'a'.repeat(32) },
        { oid: 16401, md5: 'b'.repeat(32) },
      ],
    },
    matviews: [{ schema: 'public', name: 'film_stats', populated: true }],
    notValidConstraints: ['public.film.film_len_check'],
    invalidIndexes: ['public.film_broken_idx'],
    triggers: [
      { schema: 'public', table: 'film', name: 'film_audit', enabled: 'D' },
      { schema: 'shop', table: 'orders', name: 'orders_touch', enabled: 'O' },
    ],
    eventTriggers: [{ name: 'no_drops', enabled: 'O' }],
  };
}

function manifest(
  content: ContentRecord | null | undefined = record(),
  options: Partial<Manifest['options']> = {},
  server = { version: '15.20', versionNum: 150020, major: 15 },
): Manifest {
  return manifestFixture({
    options,
    server,
    rowCounts: { mode: 'exact', tables: TABLES.map(({ schema, table, rows }) => ({ schema, table, rows })) },
    objects: OBJECTS,
    ...(content === undefined ? {} : { content }),
  });
}

function restoredContent(): RestoredContent {
  const r = record();
  return {
    serverVersionNum: 150020,
    tables: TABLES.map((t) => ({ ...t })),
    sequences: r.sequences.map((s) => ({ schema: s.schema, name: s.name, value: { ...s.after } })),
    largeObjects: { count: 2, fingerprint: '99', objects: [...(r.largeObjects.count ? r.largeObjects.objects! : [])] },
    catalog: {
      matviews: [...r.matviews],
      notValidConstraints: [...r.notValidConstraints],
      invalidIndexes: [],
      triggers: [...r.triggers],
      eventTriggers: [...r.eventTriggers],
    },
  };
}

function restored(tamper: (c: RestoredContent) => void = () => undefined): RestoredState {
  const content = restoredContent();
  tamper(content);
  return {
    tables: (content.tables ?? TABLES).map(({ schema, table, rows }) => ({ schema, table, rows })),
    objects: { ...OBJECTS },
    notValidatedConstraints: [...content.catalog.notValidConstraints],
    invalidIndexes: [...content.catalog.invalidIndexes],
    ancestors: {},
    unlogged: [],
    sql: [],
    content,
  };
}

const failed = (state: RestoredState, m = manifest()): string[] =>
  verifyDrill(m, state)
    .checks.filter((c) => !c.passed)
    .map((c) => c.name);

describe('verifyDrill with a content record (manifest version 2)', () => {
  test('a faithful restore passes, NOT VALID constraints and a source-only invalid index included', () => {
    const v = verifyDrill(manifest(), restored());
    expect(v.checks.filter((c) => !c.passed)).toEqual([]);
    expect(v.passed).toBe(true);
    expect(v.categories.map((c) => c.name)).toEqual([
      'tables',
      'objects',
      'sequences',
      'large objects',
      'constraints',
      'indexes',
      'triggers',
      'materialized views',
      'drill-sql',
    ]);
    expect(v.skipped).toEqual([expect.stringMatching(/invalid indexes of the source are not dumped.*film_broken_idx/)]);
    expect(provenLine(v.categories)).toBe(
      'Proven: 2 tables content-identical (1,007 rows), 8 object counts, 2 sequences, 2 large objects, NOT VALID constraints as in the source (1), indexes valid, 3 triggers, 1 materialized views.',
    );
  });

  test.each<[string, (c: RestoredContent) => void, string[]]>([
    ['one changed value', (c) => (c.tables![0]!.fingerprint = '-123456789012345678900'), ['content of public.film']],
    [
      'one deleted row',
      (c) => Object.assign(c.tables![1]!, { rows: 6, fingerprint: '17' }),
      ['rows of shop.orders', 'content of shop.orders'],
    ],
    [
      'an unlinked large object',
      (c) =>
        Object.assign(c.largeObjects, { count: 1, fingerprint: '50', objects: [{ oid: 16401, md5: 'b'.repeat(32) }] }),
      ['large object 16400', 'large objects'],
    ],
    [
      'an altered large object',
      (c) =>
        Object.assign(c.largeObjects, {
          fingerprint: '51',
          objects: [
            { oid: 16400, md5: 'c'.repeat(32) },
            { oid: 16401, md5: 'b'.repeat(32) },
          ],
        }),
      ['large object 16400', 'large objects'],
    ],
    ['a changed sequence value', (c) => (c.sequences[0]!.value.lastValue = '1001'), ['sequence public.film_id_seq']],
    [
      'a sequence past its upper bound',
      (c) => (c.sequences[1]!.value.lastValue = '13'),
      ['sequence shop.orders_id_seq'],
    ],
    ['a missing sequence', (c) => c.sequences.splice(0, 1), ['sequence public.film_id_seq']],
    [
      'a NOT VALID constraint validated',
      (c) => (c.catalog.notValidConstraints = []),
      ['constraint public.film.film_len_check'],
    ],
    [
      'a constraint NOT VALID only in the restore',
      (c) => c.catalog.notValidConstraints.push('shop.orders.orders_fk'),
      ['constraint shop.orders.orders_fk'],
    ],
    ['an invalid index', (c) => c.catalog.invalidIndexes.push('shop.orders_idx'), ['indexes valid']],
    [
      'a trigger enabled',
      (c) => (c.catalog.triggers[0] = { ...c.catalog.triggers[0]!, enabled: 'O' }),
      ['trigger public.film.film_audit'],
    ],
    ['a missing trigger', (c) => c.catalog.triggers.splice(1, 1), ['trigger shop.orders.orders_touch']],
    ['an event trigger disabled', (c) => (c.catalog.eventTriggers[0]!.enabled = 'D'), ['event trigger no_drops']],
    [
      'a matview not populated',
      (c) => (c.catalog.matviews[0] = { ...c.catalog.matviews[0]!, populated: false }),
      ['materialized view public.film_stats'],
    ],
  ])('%s fails, naming the object', (_kind, tamper, names) => {
    const state = restored(tamper);
    // The legacy fields follow the content (what readRestoredState reads).
    state.tables = state.content!.tables!.map(({ schema, table, rows }) => ({ schema, table, rows }));
    expect(failed(state)).toEqual(names);
  });

  test('a sequence inside its bounds passes; is_called must match when both bounds agree', () => {
    const before = { lastValue: '7', isCalled: true };
    const after = { lastValue: '12', isCalled: true };
    expect(sequenceWithin(before, after, { lastValue: '9', isCalled: true })).toBe(true);
    expect(sequenceWithin(before, after, { lastValue: '9', isCalled: false })).toBe(false);
    expect(sequenceWithin(after, before, { lastValue: '7', isCalled: true })).toBe(true);
    expect(sequenceWithin(before, after, { lastValue: '6', isCalled: true })).toBe(false);
    expect(sequenceWithin({ lastValue: '1', isCalled: false }, after, { lastValue: '1', isCalled: false })).toBe(true);
    expect(sequenceWithin(before, after, { lastValue: '9223372036854775807', isCalled: true })).toBe(false);
  });

  test('across the PostgreSQL 12 float output change, fingerprints are skipped with a note, counts still compared', () => {
    const m = manifest(record(), {}, { version: '11.22', versionNum: 110022, major: 11 });
    const state = restored((c) => (c.tables![0]!.fingerprint = '1'));
    const v = verifyDrill(m, state);
    expect(v.passed).toBe(true);
    expect(v.checks.some((c) => c.name.startsWith('content of'))).toBe(false);
    expect(v.skipped).toContainEqual(
      expect.stringMatching(/^table fingerprints: float output differs between PostgreSQL 11 and 15/),
    );
  });

  test('filter scoping: tables, sequences and triggers outside the archive are not expected; no large objects with -n', () => {
    const m = manifest(record(), { schemas: ['public'] });
    const state = restored((c) => {
      c.tables = c.tables!.filter((t) => t.schema === 'public');
      c.sequences = c.sequences.filter((s) => s.schema === 'public');
      c.catalog.triggers = c.catalog.triggers.filter((t) => t.schema === 'public');
      c.largeObjects = { count: 0, fingerprint: '0', objects: [] };
    });
    state.tables = state.content!.tables!.map(({ schema, table, rows }) => ({ schema, table, rows }));
    const v = verifyDrill(m, state);
    expect(v.checks.filter((c) => !c.passed)).toEqual([]);
    expect(v.categories.map((c) => c.name)).not.toContain('large objects');
  });

  test('schema-only: no content, sequence or matview checks', () => {
    const state = restored((c) => {
      c.tables = c.tables!.map((t) => ({ ...t, rows: 0, fingerprint: '0' }));
      c.catalog.matviews = c.catalog.matviews.map((mv) => ({ ...mv, populated: false }));
      c.sequences = c.sequences.map((s) => ({ ...s, value: { lastValue: '1', isCalled: false } }));
    });
    state.tables = state.content!.tables!.map(({ schema, table, rows }) => ({ schema, table, rows }));
    const v = verifyDrill(manifest(record(), { schemaOnly: true }), state);
    expect(v.passed).toBe(true);
    expect(v.checks.some((c) => /^(content of|sequence|materialized view|large object)/.test(c.name))).toBe(false);
  });

  test('large objects the backup could not read are skipped with the reason', () => {
    const r = record();
    r.largeObjects = { count: null, fingerprint: null, reason: 'permission denied for large object 16400' };
    const v = verifyDrill(manifest(r), restored());
    expect(v.passed).toBe(true);
    expect(v.skipped).toContainEqual(
      'large objects: not recorded at backup (permission denied for large object 16400)',
    );
  });

  test('verify: counts (no table fingerprints, large objects not read): counts, NOT VALID set and states still compared', () => {
    const r = record();
    r.tables = null;
    r.largeObjects = { count: null, fingerprint: null, reason: 'verify: counts' };
    const v = verifyDrill(
      manifest(r),
      restored((c) => (c.tables![0]!.fingerprint = '1')),
    );
    expect(v.passed).toBe(true);
    expect(v.checks.some((c) => c.name.startsWith('content of') || c.name.startsWith('large object'))).toBe(false);
    expect(v.checks.map((c) => c.name)).toContain('NOT VALID constraints as in the source');
    expect(v.skipped).toContainEqual(expect.stringMatching(/^table fingerprints: not recorded at backup/));
    expect(v.skipped).toContainEqual('large objects: not recorded at backup (verify: counts)');
    expect(
      failed(
        restored((c) => (c.sequences[0]!.value.lastValue = '7')),
        manifest(r),
      ),
    ).toEqual(['sequence public.film_id_seq']);
  });

  test('a version-1 manifest (no content) keeps the old checks: NOT VALID constraints fail as before', () => {
    const state = restored();
    delete state.content;
    const v = verifyDrill(manifest(undefined), state);
    expect(v.checks.map((c) => c.name)).toEqual([
      'rows of public.film',
      'rows of shop.orders',
      ...Object.keys(OBJECTS).map(() => expect.stringMatching(/^count of /) as unknown as string),
      'constraints validated',
      'indexes valid',
    ]);
    expect(failed(state, manifest(undefined))).toEqual(['constraints validated']);
  });

  test('withCategory adds a category before drill-sql and recomputes the verdict', () => {
    const state = restored();
    state.sql = [{ query: 'SELECT true', passed: true, actual: 'true' }];
    const v = verifyDrill(manifest(), state);
    const w = withCategory(v, {
      name: 'database properties',
      checks: [{ name: 'database property datcollate', expected: 'en-US', actual: 'C', passed: false }],
      proven: 'database properties',
    });
    expect(w.categories.map((c) => c.name).slice(-2)).toEqual(['database properties', 'drill-sql']);
    expect(w.passed).toBe(false);
    expect(w.checks.length).toBe(v.checks.length + 1);
    expect(provenLine(w.categories)).toMatch(/^Failed: database properties \(1\)\. Proven: 2 tables content-identical/);
  });
});
