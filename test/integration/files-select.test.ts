/**
 * The files selection on a real tree (src/files/walk.ts over the planner): globs, exclusions,
 * links not followed, the folders above each entry, overlapping entries, and entries that match
 * nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FilesSelectionError } from '../../src/files/errors.js';
import { selectFiles } from '../../src/files/walk.js';

let dir: string;
let ws: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'files-select-'));
  ws = join(dir, 'ws');
  for (const folder of ['uploads/2024/01', 'uploads/cache/x', 'other/deep', 'public']) {
    mkdirSync(join(ws, folder), { recursive: true });
  }
  for (const file of ['uploads/2024/01/a.jpg', 'uploads/2024/01/b.png', 'uploads/top.jpg', 'uploads/x.tmp']) {
    writeFileSync(join(ws, file), file);
  }
  writeFileSync(join(ws, 'uploads/cache/x/c.jpg'), 'c');
  writeFileSync(join(ws, 'other/deep/secret.jpg'), 's');
  symlinkSync('../other', join(ws, 'uploads/linked'));
  symlinkSync('uploads', join(ws, 'public/uploads-link'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const paths = async (entries: string[], exclude: string[] = []) =>
  (await selectFiles({ workspace: ws, entries, exclude })).entries.map((e) => `${e.type[0]} ${e.path}`);

test('a folder is walked whole; a link to a folder is kept as a link and not followed', async () => {
  expect(await paths(['uploads'])).toEqual([
    'd uploads',
    'd uploads/2024',
    'd uploads/2024/01',
    'f uploads/2024/01/a.jpg',
    'f uploads/2024/01/b.png',
    'd uploads/cache',
    'd uploads/cache/x',
    'f uploads/cache/x/c.jpg',
    's uploads/linked',
    'f uploads/top.jpg',
    'f uploads/x.tmp',
  ]);
});

test('a glob lists its matches and the folders above them; ** does not enter links', async () => {
  expect(await paths(['uploads/**/*.jpg'])).toEqual([
    'd uploads',
    'd uploads/2024',
    'd uploads/2024/01',
    'f uploads/2024/01/a.jpg',
    'd uploads/cache',
    'd uploads/cache/x',
    'f uploads/cache/x/c.jpg',
    'f uploads/top.jpg',
  ]);
});

test('files-exclude drops matching paths and everything below an excluded folder', async () => {
  expect(await paths(['uploads'], ['*.tmp', 'cache', 'uploads/linked'])).toEqual([
    'd uploads',
    'd uploads/2024',
    'd uploads/2024/01',
    'f uploads/2024/01/a.jpg',
    'f uploads/2024/01/b.png',
    'f uploads/top.jpg',
  ]);
});

test('overlapping entries and a glob over a walked folder list each path once', async () => {
  const once = await paths(['uploads', 'uploads/2024', 'uploads/*', 'uploads/2024/01/a.jpg']);
  expect(once).toEqual(await paths(['uploads']));
});

test('an entry that is a link is kept as that link', async () => {
  const selection = await selectFiles({ workspace: ws, entries: ['public/uploads-link'] });
  expect(selection.entries).toMatchObject([
    { path: 'public', type: 'dir' },
    { path: 'public/uploads-link', type: 'symlink', linkTarget: 'uploads' },
  ]);
});

test('the workspace itself lists its contents; an absolute entry outside it keeps its folders', async () => {
  const all = await paths(['.']);
  expect(all).toContain('d other/deep');
  expect(all).not.toContain('d ');
  const outside = join(dir, 'media');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'm.png'), 'm');
  const abs = await paths([outside]);
  const parts = outside.slice(1).split('/');
  expect(abs).toEqual([...parts.map((_, i) => `d ${parts.slice(0, i + 1).join('/')}`), `f ${outside.slice(1)}/m.png`]);
});

test('entries that match nothing are named in one FilesSelectionError, unless optional', async () => {
  const error = await selectFiles({
    workspace: ws,
    entries: ['uploads', 'missing', 'nowhere/*.jpg', 'uploads/*.gif'],
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FilesSelectionError);
  expect(error).toMatchObject({ phase: 'config', unmatched: ['missing', 'nowhere/*.jpg', 'uploads/*.gif'] });
  const optional = await selectFiles({ workspace: ws, entries: ['uploads/top.jpg', 'missing'], optional: true });
  expect(optional.unmatched).toEqual(['missing']);
  expect(optional.files).toBe(1);
  await expect(selectFiles({ workspace: ws, entries: ['', '# nothing'] })).rejects.toThrow(/no entry given/);
});
