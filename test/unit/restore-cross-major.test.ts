/** Restoring into another major (restore/cross-major.ts) and the advice of a failed restore (restore/errors.ts), as tables. */
import type { Manifest } from '../../src/manifest.js';
import {
  knowsRestrict,
  lz4ColumnsInArchive,
  planCrossMajor,
  type CrossMajorFacts,
} from '../../src/restore/cross-major.js';
import { restoreHint } from '../../src/restore/errors.js';

const SAME: CrossMajorFacts = {
  sourceMajor: 15,
  dumpMajor: 15,
  dumpVersion: '15.20',
  format: 'custom',
  targetMajor: 15,
  targetToastCompressions: ['pglz', 'lz4'],
  clientVersion: '15.20',
};

test.each<[string, Partial<CrossMajorFacts>, { errors: RegExp[]; notes: RegExp[]; noStatistics: boolean }]>([
  ['same major, lz4 built in', {}, { errors: [], notes: [], noStatistics: false }],
  [
    '15 into 17 without lz4, lz4 columns unknown: a note, no error',
    { targetMajor: 17, targetToastCompressions: ['pglz'] },
    {
      errors: [],
      notes: [/built without lz4.*--no-toast-compression/, /PostgreSQL 15 backup into PostgreSQL 17 \(a newer major\)/],
      noStatistics: false,
    },
  ],
  [
    '15 into 17 without lz4, 2 lz4 columns recorded: an error naming the fix',
    { targetMajor: 17, targetToastCompressions: ['pglz'], lz4Columns: 2 },
    {
      errors: [/2 column\(s\) compressed with lz4.*pg-dump-args: --no-toast-compression/],
      notes: [/newer major/],
      noStatistics: false,
    },
  ],
  ['lz4 columns into a server with lz4: nothing', { lz4Columns: 3 }, { errors: [], notes: [], noStatistics: false }],
  [
    '15 into 17 without lz4, no lz4 column recorded: no lz4 note',
    { targetMajor: 17, targetToastCompressions: ['pglz'], lz4Columns: 0 },
    { errors: [], notes: [/newer major/], noStatistics: false },
  ],
  [
    '18 custom into 16: statistics left out',
    { sourceMajor: 18, dumpMajor: 18, dumpVersion: '18.1', clientVersion: '18.1', targetMajor: 16 },
    { errors: [], notes: [/older major/, /--no-statistics.*ANALYZE/, /sets transaction_timeout/], noStatistics: true },
  ],
  [
    '18 plain into 16: statistics and transaction_timeout cannot be filtered',
    { sourceMajor: 18, dumpMajor: 18, dumpVersion: '18.1', clientVersion: '18.1', targetMajor: 16, format: 'plain' },
    { errors: [/statistics.*--no-statistics/, /transaction_timeout/], notes: [/older major/], noStatistics: false },
  ],
  [
    '17 custom into 15: notes for the older major and pg_restore 17 setting transaction_timeout',
    { sourceMajor: 17, dumpMajor: 17, dumpVersion: '17.6', clientVersion: '17.6', targetMajor: 15 },
    { errors: [], notes: [/older major/, /pg_restore 17\.6 sets transaction_timeout/], noStatistics: false },
  ],
  [
    'plain of pg_dump 15.14 read by psql 15.13: \\restrict unknown',
    { format: 'plain', dumpVersion: '15.14', clientVersion: '15.13' },
    { errors: [/\\restrict.*psql 15\.14 or newer/], notes: [], noStatistics: false },
  ],
  [
    'plain of pg_dump 15.13 read by psql 15.13: fine',
    { format: 'plain', dumpVersion: '15.13', clientVersion: '15.13' },
    { errors: [], notes: [], noStatistics: false },
  ],
])('%s', (_name, facts, expected) => {
  const plan = planCrossMajor({ ...SAME, ...facts });
  expect(plan.noStatistics).toBe(expected.noStatistics);
  expect(plan.errors).toHaveLength(expected.errors.length);
  expected.errors.forEach((re, i) => expect(plan.errors[i]).toMatch(re));
  expect(plan.notes).toHaveLength(expected.notes.length);
  expected.notes.forEach((re, i) => expect(plan.notes[i]).toMatch(re));
});

test.each<[string, boolean]>([
  ['15.13', false],
  ['15.14', true],
  ['17.5', false],
  ['17.6 (Debian 17.6-1)', true],
  ['18.0', true],
  ['12.22', false],
])('knowsRestrict(%s) = %s', (version, expected) => {
  expect(knowsRestrict(version)).toBe(expected);
});

test.each<[string, string, string, RegExp | '']>([
  [
    'a missing owner role',
    'ERROR:  role "app" does not exist',
    'Command was: ALTER TABLE public.t OWNER TO app;',
    /no-owner: true and no-privileges: true/,
  ],
  [
    'a user mapping naming a missing role',
    'ERROR:  role "bob" does not exist',
    'Command was: CREATE USER MAPPING FOR bob SERVER s;',
    /user mappings or row-level security policies.*create the roles first/,
  ],
  [
    'a policy naming a missing role',
    'ERROR:  role "bob" does not exist',
    'Command was: CREATE POLICY p ON public.t TO bob USING (true);',
    /do not leave those out/,
  ],
  [
    'lz4 on a server without it',
    'ERROR:  compression method lz4 not supported',
    'Command was: CREATE TABLE public.docs (',
    /--no-toast-compression/,
  ],
  [
    'transaction_timeout on an older server',
    'ERROR:  unrecognized configuration parameter "transaction_timeout"',
    '',
    /PostgreSQL 17 or newer/,
  ],
  [
    'statistics on an older server',
    'ERROR:  function pg_catalog.pg_restore_relation_stats(unknown) does not exist',
    '',
    /--no-statistics/,
  ],
  ['\\restrict read by an older psql', 'psql:<stdin>:1: invalid command \\restrict', '', /newer psql minor/],
  ['already exists', 'ERROR:  relation "t" already exists', '', /clean: true/],
  ['anything else', 'ERROR:  division by zero', '', ''],
])('%s', (_name, error, statement, expected) => {
  const hint = restoreHint(error, statement);
  if (expected === '') expect(hint).toBe('');
  else expect(hint).toMatch(expected);
  if (/USER MAPPING|POLICY/.test(statement)) expect(hint).not.toMatch(/no-owner: true/);
});

test.each<[string, Pick<Manifest, 'content'> & { extraArgs: string[] }, number | undefined]>([
  [
    'recorded columns',
    { content: { lz4Columns: ['public.docs.body'] } as NonNullable<Manifest['content']>, extraArgs: [] },
    1,
  ],
  [
    'recorded, but dumped with --no-toast-compression',
    {
      content: { lz4Columns: ['public.docs.body'] } as NonNullable<Manifest['content']>,
      extraArgs: ['--no-toast-compression'],
    },
    0,
  ],
  [
    'an older manifest that does not say',
    { content: {} as NonNullable<Manifest['content']>, extraArgs: [] },
    undefined,
  ],
  ['a version-1 manifest', { extraArgs: [] }, undefined],
])('lz4 columns in the archive: %s', (_name, m, expected) => {
  const manifest = { ...(m.content ? { content: m.content } : {}), options: { extraArgs: m.extraArgs } };
  expect(lz4ColumnsInArchive(manifest as unknown as Manifest)).toBe(expected);
});
