import { describe, expect, it } from '@jest/globals';
import { anomalyTable, findAnomalies, type AnomalySettings } from '../../src/retention/anomaly.js';
import type { Manifest } from '../../src/manifest.js';
import { manifestFixture, type ManifestPatch } from '../support/manifest-fixture.js';

type Counts = Record<string, number>;

function manifest(counts: Counts, patch: ManifestPatch = {}, bytes = 1000): Manifest {
  const base = manifestFixture(patch);
  return {
    ...base,
    archive: { ...base.archive, bytes },
    rowCounts: {
      mode: patch.rowCounts?.mode ?? 'exact',
      tables: Object.entries(counts).map(([name, rows]) => {
        const [schema, table] = name.split('.') as [string, string];
        return { schema, table, rows };
      }),
    },
  };
}

const both = { 'public.orders': 1000, 'public.customers': 50 };

describe('findAnomalies', () => {
  const cases: {
    name: string;
    previous: Manifest;
    current: Manifest;
    settings: AnomalySettings;
    expected: [string, string, number, number][];
    notes?: RegExp;
  }[] = [
    {
      name: 'same counts',
      previous: manifest(both),
      current: manifest(both),
      settings: { maxRowDrop: 0.5 },
      expected: [],
    },
    {
      name: 'growth is never an anomaly',
      previous: manifest(both),
      current: manifest({ 'public.orders': 5000, 'public.customers': 50, 'public.new': 1 }),
      settings: { maxRowDrop: 0.1 },
      expected: [],
    },
    {
      name: '60 % fewer rows and a dropped table',
      previous: manifest(both),
      current: manifest({ 'public.orders': 400 }),
      settings: { maxRowDrop: 0.5 },
      expected: [
        ['rows-dropped', 'public.orders', 1000, 400],
        ['table-missing', 'public.customers', 50, 0],
      ],
    },
    {
      name: 'a drop exactly at the limit is not an anomaly',
      previous: manifest(both),
      current: manifest({ 'public.orders': 500, 'public.customers': 50 }),
      settings: { maxRowDrop: 0.5 },
      expected: [],
    },
    {
      name: 'max-row-drop 1 flags only vanished tables',
      previous: manifest(both),
      current: manifest({ 'public.orders': 0 }),
      settings: { maxRowDrop: 1 },
      expected: [['table-missing', 'public.customers', 50, 0]],
    },
    {
      name: 'an empty table that stays empty',
      previous: manifest({ 'public.t': 0 }),
      current: manifest({ 'public.t': 0 }),
      settings: { maxRowDrop: 0.01 },
      expected: [],
    },
    {
      name: 'a never-analyzed estimate (-1) is not compared',
      previous: manifest({ 'public.t': 100 }, { rowCounts: { mode: 'estimate', tables: [] } }),
      current: manifest({ 'public.t': -1 }, { rowCounts: { mode: 'estimate', tables: [] } }),
      settings: { maxRowDrop: 0.5 },
      expected: [],
      notes: /estimates/,
    },
    {
      name: 'changed filters explain a missing table',
      previous: manifest(both),
      current: manifest({ 'public.orders': 1000 }, { options: { excludeTables: ['public.customers'] } }),
      settings: { maxRowDrop: 0.5 },
      expected: [],
      notes: /options differ .*excludeTables.*not compared/,
    },
    {
      name: 'archive below min-size-ratio of the previous one',
      previous: manifest(both, {}, 1000),
      current: manifest(both, {}, 400),
      settings: { maxRowDrop: 0.5, minSizeRatio: 0.5 },
      expected: [['archive-small', '(archive)', 1000, 400]],
    },
    {
      name: 'archive size against a given median',
      previous: manifest(both, {}, 1000),
      current: manifest(both, {}, 900),
      settings: { maxRowDrop: 0.5, minSizeRatio: 0.5, medianBytes: 2000 },
      expected: [['archive-small', '(archive)', 2000, 900]],
    },
    {
      name: 'a previous manifest without dump options (hand-made or damaged): a note, no crash',
      previous: (({ options: _options, ...rest }) => rest as Manifest)(manifest(both)),
      current: manifest({ 'public.orders': 400, 'public.customers': 50 }),
      settings: { maxRowDrop: 0.5 },
      expected: [],
      notes: /dump options differ/,
    },
    {
      name: 'archive size not checked without min-size-ratio',
      previous: manifest(both, {}, 1000),
      current: manifest(both, {}, 1),
      settings: { maxRowDrop: 0.5 },
      expected: [],
    },
  ];
  it.each(cases)('$name', ({ previous, current, settings, expected, notes }) => {
    const found = findAnomalies(previous, current, settings);
    expect(found.anomalies.map((a) => [a.kind, a.table, a.before, a.now])).toEqual(expected);
    if (notes) expect(found.notes.join('\n')).toMatch(notes);
    else expect(found.notes).toEqual([]);
  });

  it('renders the summary table with the change', () => {
    const { anomalies } = findAnomalies(manifest(both), manifest({ 'public.orders': 400 }), { maxRowDrop: 0.5 });
    expect(anomalyTable(anomalies)).toEqual([
      '| Table | Before | Now | Change |',
      '|---|---:|---:|---|',
      '| public.orders | 1000 | 400 | -60.0% |',
      '| public.customers | 50 | 0 | table gone |',
    ]);
  });
});
