import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { drillSummary, type DrillResult } from '../../src/report/drill-report.js';
import type { Manifest } from '../../src/manifest.js';
import type { CatalogCounts } from '../../src/postgres/inspect.js';
import { buildPgRestoreArgs, buildPsqlArgs, dbnameConninfo, restoreMode } from '../../src/restore/args.js';
import { streamSuffix } from '../../src/restore/decompress.js';
import { CorruptArchiveError, RestoreError } from '../../src/restore/errors.js';
import { prepareGlobalsSql } from '../../src/restore/globals.js';
import { DigestGate } from '../../src/restore/stages.js';
import { manifestFixture } from '../support/manifest-fixture.js';
import {
  archiveScope,
  compilePattern,
  judgeSqlResult,
  matchesSchema,
  matchesTable,
  verifyDrill,
  type RestoredState,
} from '../../src/restore/verify.js';

const OBJECTS: CatalogCounts = {
  tables: 4,
  partitionedTables: 1,
  indexes: 6,
  constraints: 5,
  views: 2,
  materializedViews: 1,
  functions: 3,
  sequences: 2,
};
const TABLES = [
  { schema: 'audit', table: 'log', rows: 50 },
  { schema: 'public', table: 'film', rows: 1000 },
  { schema: 'public', table: 'payment_p1', rows: 10 },
  { schema: 'public', table: 'sessions', rows: 7 },
];

function manifest(options: Partial<Manifest['options']> = {}, mode: 'exact' | 'estimate' = 'exact'): Manifest {
  return manifestFixture({ options, rowCounts: { mode, tables: TABLES }, objects: OBJECTS });
}

function restored(overrides: Partial<RestoredState> = {}): RestoredState {
  return {
    tables: TABLES.map((t) => ({ ...t })),
    objects: { ...OBJECTS },
    notValidatedConstraints: [],
    invalidIndexes: [],
    ancestors: { 'public.payment_p1': ['public.payment'] },
    unlogged: [],
    sql: [],
    ...overrides,
  };
}

function summary(
  checks: ReturnType<typeof verifyDrill>['checks'],
): [string, string | number, string | number, boolean][] {
  return checks.map((c) => [c.name, c.expected, c.actual, c.passed]);
}

describe('verifyDrill', () => {
  test('an exact restore: a row check per table, object counts, constraints and indexes, all passed', () => {
    const v = verifyDrill(manifest(), restored());
    expect(v.passed).toBe(true);
    expect(summary(v.checks)).toEqual([
      ['rows of audit.log', 50, 50, true],
      ['rows of public.film', 1000, 1000, true],
      ['rows of public.payment_p1', 10, 10, true],
      ['rows of public.sessions', 7, 7, true],
      ['count of tables', 4, 4, true],
      ['count of partitioned tables', 1, 1, true],
      ['count of indexes', 6, 6, true],
      ['count of constraints', 5, 5, true],
      ['count of views', 2, 2, true],
      ['count of materialized views', 1, 1, true],
      ['count of functions', 3, 3, true],
      ['count of sequences', 2, 2, true],
      ['constraints validated', 'all', 'all', true],
      ['indexes valid', 'all', 'all', true],
    ]);
    expect(v.skipped).toEqual([]);
  });

  test('a missing table, a wrong row count and a missing index fail, each named', () => {
    const state = restored({
      tables: TABLES.filter((t) => t.table !== 'log').map((t) => (t.table === 'film' ? { ...t, rows: 999 } : t)),
      objects: { ...OBJECTS, indexes: 5 },
    });
    const v = verifyDrill(manifest(), state);
    expect(v.passed).toBe(false);
    expect(summary(v.checks.filter((c) => !c.passed))).toEqual([
      ['table audit.log', 'present', 'missing', false],
      ['rows of public.film', 1000, 999, false],
      ['count of indexes', 6, 5, false],
    ]);
  });

  test('constraints not validated and invalid indexes fail, naming them', () => {
    const names = [
      'public.a.a_fk',
      'public.b.b_fk',
      'public.c.c_fk',
      'public.d.d_fk',
      'public.e.e_fk',
      'public.f.f_fk',
    ];
    const v = verifyDrill(
      manifest(),
      restored({ notValidatedConstraints: names, invalidIndexes: ['public.film_title_idx'] }),
    );
    expect(summary(v.checks.filter((c) => !c.passed))).toEqual([
      [
        'constraints validated',
        'all',
        'not validated 6: public.a.a_fk, public.b.b_fk, public.c.c_fk, public.d.d_fk, public.e.e_fk, …',
        false,
      ],
      ['indexes valid', 'all', 'invalid 1: public.film_title_idx', false],
    ]);
  });

  test('exclude-table-data (simple name and * globbing): those tables are present, rows not checked', () => {
    const state = restored({
      tables: TABLES.map((t) => (t.table === 'sessions' || t.schema === 'audit' ? { ...t, rows: 0 } : t)),
    });
    const v = verifyDrill(manifest({ excludeTableData: ['sessions', 'audit.*'] }), state);
    expect(v.passed).toBe(true);
    expect(v.checks.find((c) => c.name === 'table public.sessions')).toEqual({
      name: 'table public.sessions',
      expected: 'present',
      actual: 'present',
      passed: true,
      note: 'rows not checked: data excluded by exclude-table-data',
    });
    expect(v.checks.find((c) => c.name === 'table audit.log')?.note).toBe(
      'rows not checked: data excluded by exclude-table-data',
    );
    // Data exclusion does not filter objects: counts are still compared.
    expect(v.checks.some((c) => c.name === 'count of indexes')).toBe(true);
  });

  test('--exclude-table-data-and-children: partitions of a matching parent are not row-checked', () => {
    const state = restored({ tables: TABLES.map((t) => (t.table === 'payment_p1' ? { ...t, rows: 0 } : t)) });
    const v = verifyDrill(manifest({ extraArgs: ['--exclude-table-data-and-children=public.payment'] }), state);
    expect(v.passed).toBe(true);
    expect(v.checks.find((c) => c.name === 'table public.payment_p1')?.note).toBe(
      'rows not checked: data excluded by --exclude-table-data-and-children',
    );
  });

  test('--no-unlogged-table-data: unlogged tables are not row-checked', () => {
    const state = restored({
      unlogged: ['public.sessions'],
      tables: TABLES.map((t) => (t.table === 'sessions' ? { ...t, rows: 0 } : t)),
    });
    expect(verifyDrill(manifest({ extraArgs: ['--no-unlogged-table-data'] }), state).passed).toBe(true);
    expect(verifyDrill(manifest(), state).passed).toBe(false);
  });

  test('exclude-table and exclude-schema: those tables are not expected; object counts are not compared', () => {
    const state = restored({
      tables: TABLES.filter((t) => t.schema !== 'audit' && t.table !== 'sessions'),
      objects: { ...OBJECTS, tables: 2, indexes: 3 },
    });
    const v = verifyDrill(manifest({ excludeSchemas: ['audit'], excludeTables: ['public.sess*'] }), state);
    expect(v.passed).toBe(true);
    expect(v.checks.map((c) => c.name)).toEqual([
      'rows of public.film',
      'rows of public.payment_p1',
      'constraints validated',
      'indexes valid',
    ]);
    expect(v.skipped).toEqual([
      'the dump was filtered (table/schema/exclude options): counts of indexes, constraints, views, functions and sequences cover the whole source database and are not compared',
      'not in the archive (filtered out of the dump): 2: audit.log, public.sessions',
    ]);
  });

  test('table (-t) and schema (-n) filters select what is expected', () => {
    const onlyFilm = restored({ tables: TABLES.filter((t) => t.table === 'film') });
    expect(verifyDrill(manifest({ tables: ['film'] }), onlyFilm).checks.map((c) => c.name)).toEqual([
      'rows of public.film',
      'constraints validated',
      'indexes valid',
    ]);
    const onlyAudit = restored({ tables: TABLES.filter((t) => t.schema === 'audit') });
    expect(verifyDrill(manifest({ schemas: ['aud*'] }), onlyAudit).passed).toBe(true);
    // -n and -N have no effect with -t: a table selected by -t is expected even in an excluded schema.
    expect(verifyDrill(manifest({ tables: ['audit.log'], excludeSchemas: ['audit'] }), onlyAudit).checks[0]?.name).toBe(
      'rows of audit.log',
    );
  });

  test('schema-only: presence only', () => {
    const empty = restored({ tables: TABLES.map((t) => ({ ...t, rows: 0 })) });
    const v = verifyDrill(manifest({ schemaOnly: true }), empty);
    expect(v.passed).toBe(true);
    expect(v.checks[0]).toEqual({
      name: 'table audit.log',
      expected: 'present',
      actual: 'present',
      passed: true,
      note: 'rows not checked: schema-only archive',
    });
    expect(v.skipped).toEqual(['schema-only archive: no rows are expected, tables are checked for presence']);
  });

  test('estimated row counts: presence only; a missing table still fails', () => {
    const v = verifyDrill(
      manifest({}, 'estimate'),
      restored({ tables: TABLES.filter((t) => t.table !== 'film').map((t) => ({ ...t, rows: 1 })) }),
    );
    expect(summary(v.checks.filter((c) => !c.passed))).toEqual([['table public.film', 'present', 'missing', false]]);
    expect(v.checks[0]?.note).toBe('rows not checked: row count is an estimate');
  });

  test('--filter in pg-dump-args: tables and rows cannot be known, missing ones are listed as skipped', () => {
    const v = verifyDrill(
      manifest({ extraArgs: ['--filter=/tmp/f'] }),
      restored({ tables: [{ schema: 'public', table: 'film', rows: 3 }] }),
    );
    expect(v.passed).toBe(true);
    expect(v.skipped).toContain(
      'not restored, possibly filtered out by pg-dump-args: 3: audit.log, public.payment_p1, public.sessions',
    );
  });

  test('drill-sql outcomes become checks', () => {
    const v = verifyDrill(
      manifest(),
      restored({
        sql: [
          { query: 'SELECT true', passed: true, actual: 'true' },
          { query: 'SELECT   count(*) > 5\n FROM film', passed: false, actual: 'false' },
        ],
      }),
    );
    expect(summary(v.checks.slice(-2))).toEqual([
      ['drill-sql 1: SELECT true', 'true', 'true', true],
      ['drill-sql 2: SELECT count(*) > 5 FROM film', 'true', 'false', false],
    ]);
  });

  test('archiveScope of an unfiltered dump', () => {
    expect(archiveScope(manifest())).toEqual({
      tablesKnown: true,
      rowsKnown: true,
      objectsComparable: true,
      reasons: [],
    });
  });
});

describe('pg_dump-style patterns', () => {
  test.each([
    ['film', 'public', 'film', true],
    ['film', 'other', 'film', true],
    ['public.film', 'public', 'film', true],
    ['public.film', 'other', 'film', false],
    ['FILM', 'public', 'film', true],
    ['"FILM"', 'public', 'film', false],
    ['"FILM"', 'public', 'FILM', true],
    ['"my.table"', 'public', 'my.table', true],
    ['pay*', 'public', 'payment_p1', true],
    ['pay*', 'public', 'repay', false],
    ['payment_p?', 'public', 'payment_p1', true],
    ['payment_p?', 'public', 'payment_p10', false],
    ['*.log', 'audit', 'log', true],
    ['shop.public.film', 'public', 'film', true],
    ['film_(a)', 'public', 'film_(a)', true],
  ])('%s matches %s.%s: %s', (pattern, schema, table, expected) => {
    expect(matchesTable(pattern, schema, table)).toBe(expected);
  });

  test('schema patterns', () => {
    expect(matchesSchema('aud*', 'audit')).toBe(true);
    expect(matchesSchema('public', 'audit')).toBe(false);
    expect(compilePattern('a""b', 1).name.test('ab')).toBe(true);
  });
});

describe('judgeSqlResult', () => {
  test.each([
    [[{ ok: true }], 1, true, 'true'],
    [[{ ok: false }], 1, false, 'false'],
    [[{ ok: null }], 1, false, 'null'],
    [[{ ok: 't' }], 1, false, "'t'"],
    [[{ n: 3 }], 1, false, '3'],
    [[], 1, false, '0 rows'],
    [[{ a: true }, { a: true }], 1, false, '2 rows'],
    [[{ a: true, b: true }], 2, false, '2 columns'],
  ])('%j (%d columns) → passed %s, actual %s', (rows, fields, passed, actual) => {
    expect(judgeSqlResult('q', rows as Record<string, unknown>[], fields)).toEqual({ query: 'q', passed, actual });
  });
});

describe('restore plumbing (pure)', () => {
  test('pg_restore arguments: stop at the first error, never prompt, database as a conninfo, no host or password', () => {
    expect(buildPgRestoreArgs('shop', { clean: false, jobs: 1, noOwner: false, noPrivileges: false })).toEqual([
      '--exit-on-error',
      '--no-password',
      "--dbname=dbname='shop'",
    ]);
    expect(buildPgRestoreArgs("it's", { clean: true, jobs: 4, noOwner: true, noPrivileges: true }, '/tmp/d')).toEqual([
      '--exit-on-error',
      '--no-password',
      "--dbname=dbname='it\\'s'",
      '--clean',
      '--if-exists',
      '--no-owner',
      '--no-privileges',
      '--jobs=4',
      '/tmp/d',
    ]);
    // -j needs a file or a folder: never with stdin.
    expect(buildPgRestoreArgs('shop', { clean: false, jobs: 4, noOwner: false, noPrivileges: false })).not.toContain(
      '--jobs=4',
    );
    expect(dbnameConninfo('a\\b=c')).toBe("dbname='a\\\\b=c'");
    expect(buildPsqlArgs()).toEqual(['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-f', '-']);
  });

  test('stream compression comes from the key', () => {
    expect(streamSuffix('p/db/2026-11-25T070000Z.dump.zst')).toBe('.zst');
    expect(streamSuffix('p/db/2026-11-25T070000Z.sql.gz')).toBe('.gz');
    expect(streamSuffix('p/db/2026-11-25T070000Z-x.tar.lz4')).toBe('.lz4');
    expect(streamSuffix('p/db/2026-11-25T070000Z.dump')).toBe('');
    expect(streamSuffix('p/db/2026-11-25T070000Z.sql.zst.gpg')).toBe('.zst');
    expect(streamSuffix('p/db/2026-11-25T070000Z.dump.gpg')).toBe('');
  });

  test('restore modes by format and jobs', () => {
    const base = { clean: false, jobs: 1, noOwner: false, noPrivileges: false };
    expect(restoreMode('custom', base)).toEqual({ mode: 'pg_restore-stdin', warnings: [] });
    expect(restoreMode('custom', { ...base, jobs: 4 })).toEqual({ mode: 'pg_restore-file', warnings: [] });
    expect(restoreMode('directory', base)).toEqual({ mode: 'pg_restore-directory', warnings: [] });
    expect(restoreMode('plain', { ...base, jobs: 2, noOwner: true })).toEqual({
      mode: 'psql',
      warnings: [
        'jobs is ignored for a plain SQL archive: psql runs it in one session.',
        'no-owner and no-privileges do not apply to a plain SQL archive: its ownership and GRANT statements were fixed when it was dumped.',
      ],
    });
    expect(() => restoreMode('plain', { ...base, clean: true })).toThrow(RestoreError);
  });

  test('globals: CREATE ROLE tolerates existing roles, tablespaces are skipped', () => {
    const sql = [
      'SET default_transaction_read_only = off;',
      'CREATE ROLE app_owner;',
      'ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;',
      'CREATE ROLE "Odd ""Name""";',
      "CREATE TABLESPACE fast OWNER postgres LOCATION '/mnt/fast';",
      'GRANT ALL ON TABLESPACE fast TO app_owner;',
    ].join('\n');
    const out = prepareGlobalsSql(sql);
    expect(out.sql.split('\n')).toEqual([
      'SET default_transaction_read_only = off;',
      'DO $globals$ BEGIN CREATE ROLE app_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $globals$;',
      'ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;',
      'DO $globals$ BEGIN CREATE ROLE "Odd ""Name"""; EXCEPTION WHEN duplicate_object THEN NULL; END $globals$;',
      "-- skipped: CREATE TABLESPACE fast OWNER postgres LOCATION '/mnt/fast';",
      '-- skipped: GRANT ALL ON TABLESPACE fast TO app_owner;',
    ]);
    expect(out.skipped).toHaveLength(2);
  });
});

describe('DigestGate', () => {
  const data = Buffer.from('x'.repeat(10_000));
  const sha256 = createHash('sha256').update(data).digest('hex');
  const chunks = (buffer: Buffer): Buffer[] => [
    buffer.subarray(0, 4000),
    buffer.subarray(4000, 8000),
    buffer.subarray(8000),
  ];

  async function run(
    input: Buffer,
    expected: { bytes: number; sha256: string },
  ): Promise<{ received: Buffer; mismatches: number; error?: unknown; gate: DigestGate }> {
    let mismatches = 0;
    const gate = new DigestGate(expected, 'p/db/k.dump', 's3://b/p', () => (mismatches += 1));
    const got: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        got.push(chunk);
        cb();
      },
    });
    const error = await pipeline(Readable.from(chunks(input)), gate, sink).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { received: Buffer.concat(got), mismatches, error, gate };
  }

  test('good bytes pass through unchanged', async () => {
    const r = await run(data, { bytes: data.length, sha256 });
    expect(r.error).toBeUndefined();
    expect(r.received.equals(data)).toBe(true);
    expect(r.gate.verdict).toBe('ok');
  });

  test('a flipped byte: the last chunk is never passed on, onMismatch runs, the stream fails naming the key', async () => {
    const bad = Buffer.from(data);
    bad[5000] = 0x79;
    const r = await run(bad, { bytes: data.length, sha256 });
    expect(r.error).toBeInstanceOf(CorruptArchiveError);
    expect((r.error as Error).message).toMatch(
      /^The archive p\/db\/k\.dump in s3:\/\/b\/p is corrupt: its SHA-256 is [0-9a-f]{64} \(10000 bytes\) but the manifest records/,
    );
    expect(r.mismatches).toBe(1);
    expect(r.received.length).toBeLessThan(data.length);
    expect(r.gate.verdict).toBe('mismatch');
  });

  test('more bytes than the manifest says: fails as soon as they arrive', async () => {
    const r = await run(data, { bytes: 5000, sha256 });
    expect((r.error as Error).message).toContain(
      'it holds more than the 5000 bytes the manifest records (at least 8000)',
    );
    // The chunk held back when the excess arrived is never passed on.
    expect(r.received.length).toBe(0);
  });

  test('fewer bytes than the manifest says: fails at the end', async () => {
    const r = await run(data.subarray(0, 9000), { bytes: data.length, sha256 });
    expect(r.error).toBeInstanceOf(CorruptArchiveError);
    expect(r.received.length).toBe(8000);
  });
});

describe('drillSummary', () => {
  test('failed checks first, then passed ones, with RTO, size and throughput', () => {
    const result: DrillResult = {
      key: 'prod/shop/2026-11-25T070000Z.dump.zst',
      url: 's3://backups/prod',
      manifest: manifest(),
      target: { host: 'db', port: 5432, database: 'drill' },
      checks: [
        { name: 'rows of public.film', expected: 1000, actual: 1000, passed: true },
        { name: 'table public.x|y', expected: 'present', actual: 'missing', passed: false },
      ],
      skipped: ['something'],
      passed: false,
      restoreSeconds: 12.5,
      verifySeconds: 1.5,
      archiveBytes: 2_000_000,
      throughput: 181_818,
      mode: 'pg_restore-stdin',
      pgRestoreVersion: '15.20',
      dropped: true,
    };
    const md = drillSummary(result);
    expect(md).toContain('| Verdict | ❌ failed (1 of 2 checks) |');
    expect(md).toContain('| RTO | 12.5 s (download to verified; verification 1.5 s) |');
    expect(md).toContain('| Archive size | 2.0 MB (2000000 bytes), SHA-256 verified |');
    expect(md.indexOf('table public.x\\|y')).toBeLessThan(md.indexOf('rows of public.film'));
    expect(md).toContain('- something');
  });
});
