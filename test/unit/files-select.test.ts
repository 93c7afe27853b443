/** The pure planner of the files selection (src/files/select.ts), table by table. */
import { FilesSelectionError } from '../../src/files/errors.js';
import {
  archivePath,
  comparePaths,
  makeExcluder,
  parseEntries,
  planSelection,
  type EntrySpec,
  type Found,
} from '../../src/files/select.js';

const WS = '/home/runner/work/app/app';

test.each<[string, EntrySpec]>([
  ['uploads', { entry: 'uploads', kind: 'path', base: `${WS}/uploads` }],
  ['./public/uploads/', { entry: './public/uploads/', kind: 'path', base: `${WS}/public/uploads` }],
  ['/srv/media', { entry: '/srv/media', kind: 'path', base: '/srv/media' }],
  ['../storage', { entry: '../storage', kind: 'path', base: '/home/runner/work/app/storage' }],
  ['uploads/**/*.jpg', { entry: 'uploads/**/*.jpg', kind: 'glob', base: `${WS}/uploads`, glob: '**/*.jpg' }],
  ['*.sqlite', { entry: '*.sqlite', kind: 'glob', base: WS, glob: '*.sqlite' }],
  ['/srv/*/media', { entry: '/srv/*/media', kind: 'glob', base: '/srv', glob: '*/media' }],
  ['/*', { entry: '/*', kind: 'glob', base: '/', glob: '*' }],
  ['media/{a,b}', { entry: 'media/{a,b}', kind: 'glob', base: `${WS}/media`, glob: '{a,b}' }],
  ['  data/[0-9]  ', { entry: 'data/[0-9]', kind: 'glob', base: `${WS}/data`, glob: '[0-9]' }],
])('parseEntries reads %j', (line, spec) => {
  expect(parseEntries([line], WS)).toEqual([spec]);
});

test('parseEntries skips blank lines and # comments', () => {
  expect(parseEntries(['', '  ', '# uploads', 'media'], WS).map((s) => s.entry)).toEqual(['media']);
});

test.each([
  [`${WS}/uploads/a.jpg`, 'uploads/a.jpg'],
  [`${WS}/uploads`, 'uploads'],
  [WS, ''],
  ['/srv/media/x.png', 'srv/media/x.png'],
  ['/home/runner/work/app/storage/x', 'home/runner/work/app/storage/x'],
  [`${WS}-other/x`, `${WS.slice(1)}-other/x`],
  ['/', ''.concat('')],
])('archivePath(%s) is %j', (source, expected) => {
  expect(archivePath(source, WS)).toBe(expected);
});

test.each<[string[], string, string, boolean]>([
  [['*.tmp'], 'uploads/a/b.tmp', `${WS}/uploads/a/b.tmp`, true],
  [['*.tmp'], 'uploads/a/b.tmp.jpg', `${WS}/uploads/a/b.tmp.jpg`, false],
  [['cache'], 'uploads/cache', `${WS}/uploads/cache`, true],
  [['cache/'], 'uploads/cache', `${WS}/uploads/cache`, true],
  [['uploads/cache'], 'uploads/cache', `${WS}/uploads/cache`, true],
  [['uploads/cache'], 'other/uploads/cache', `${WS}/other/uploads/cache`, false],
  [['**/.git'], 'uploads/x/.git', `${WS}/uploads/x/.git`, true],
  [['.DS_Store'], 'uploads/.DS_Store', `${WS}/uploads/.DS_Store`, true],
  [['/srv/media/tmp'], 'srv/media/tmp', '/srv/media/tmp', true],
  [['/srv/media/tmp'], 'srv/media/tmp2', '/srv/media/tmp2', false],
  [['# a comment', ''], 'uploads/a', `${WS}/uploads/a`, false],
  [['!keep'], 'uploads/x', `${WS}/uploads/x`, false],
  [[], 'uploads/a', `${WS}/uploads/a`, false],
])('makeExcluder(%j) on %s → %s', (patterns, entryPath, source, excluded) => {
  expect(makeExcluder(patterns)(entryPath, source)).toBe(excluded);
});

const file = (p: string, size = 1, source = `${WS}/${p}`): Found => ({
  path: p,
  source,
  type: 'file',
  size,
  mode: 0o644,
  mtimeMs: 0,
});
const dir = (p: string): Found => ({ path: p, source: `${WS}/${p}`, type: 'dir', size: 0, mode: 0o755, mtimeMs: 0 });
const spec = (entry: string): EntrySpec => ({ entry, kind: 'path', base: `${WS}/${entry}` });

test.each<[string, EntrySpec[], Found[][], boolean, [string[], number, number]]>([
  ['one folder', [spec('up')], [[dir('up'), file('up/a', 3), file('up/b', 4)]], false, [['up', 'up/a', 'up/b'], 2, 7]],
  [
    'overlapping entries listed once',
    [spec('up'), spec('up/a')],
    [
      [dir('up'), file('up/a', 3)],
      [file('up/a', 3), dir('up')],
    ],
    false,
    [['up', 'up/a'], 1, 3],
  ],
  [
    'sorted by UTF-8 bytes, parents first',
    [spec('x')],
    [[file('a/é'), file('a/z'), dir('a'), file('a-b'), file('a/b'), file('B')]],
    false,
    [['B', 'a', 'a-b', 'a/b', 'a/z', 'a/é'], 5, 5],
  ],
  ['optional entry that matched nothing', [spec('up'), spec('gone')], [[file('up')], []], true, [['up'], 1, 1]],
])('planSelection: %s', (_name, specs, found, optional, [paths, files, bytes]) => {
  const plan = planSelection(specs, found, optional);
  expect(plan.entries.map((e) => e.path)).toEqual(paths);
  expect(plan).toMatchObject({ files, bytes });
});

test('planSelection moves special files to skipped and lists unmatched optional entries', () => {
  const fifo: Found = { path: 'up/q', source: `${WS}/up/q`, type: 'special', kind: 'fifo' };
  const plan = planSelection([spec('up'), spec('gone')], [[dir('up'), fifo], []], true);
  expect(plan.entries.map((e) => e.path)).toEqual(['up']);
  expect(plan.skipped).toEqual([{ path: 'up/q', kind: 'fifo' }]);
  expect(plan.unmatched).toEqual(['gone']);
});

test('planSelection names every entry that matched nothing', () => {
  const run = () => planSelection([spec('up'), spec('gone'), spec('also gone')], [[file('up')], [], []], false);
  expect(run).toThrow(FilesSelectionError);
  expect(run).toThrow(/"gone", "also gone" matched nothing/);
  try {
    run();
  } catch (error) {
    expect(error).toMatchObject({ phase: 'config', unmatched: ['gone', 'also gone'] });
  }
});

test('planSelection refuses two sources on one archive path', () => {
  const run = () => planSelection([spec('srv'), spec('/srv')], [[file('srv/x')], [file('srv/x', 1, '/srv/x')]], false);
  expect(run).toThrow(/would both be stored as "srv\/x"/);
});

test.each([
  ['a', 'b', -1],
  ['a', 'a/b', -1],
  ['a/b', 'a-b', 1],
  ['Z', 'a', -1],
  ['é', 'z', 1],
  ['x', 'x', 0],
])('comparePaths(%j, %j) has the sign of %d', (a, b, sign) => {
  expect(Math.sign(comparePaths(a, b))).toBe(sign);
});
