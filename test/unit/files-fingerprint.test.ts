/**
 * The listing fingerprint's lines and digest (src/files/fingerprint.ts) and the extraction's
 * entry checks (src/files/extract.ts `entryProblem`), table by table.
 */
import { createHash } from 'node:crypto';

import { entryProblem } from '../../src/files/extract.js';
import {
  compareListing,
  digestListing,
  fingerprintLine,
  normalizeEntryPath,
  type ListingItem,
} from '../../src/files/fingerprint.js';

const HASH = 'a'.repeat(64);

test.each<[ListingItem, string]>([
  [{ type: 'file', path: 'up/a.jpg', size: 3, detail: HASH }, `["file","up/a.jpg",3,"${HASH}"]\n`],
  [{ type: 'dir', path: 'up/empty', size: 0, detail: '' }, '["dir","up/empty",0,""]\n'],
  [{ type: 'symlink', path: 'up/l', size: 0, detail: '../x y' }, '["symlink","up/l",0,"../x y"]\n'],
  [{ type: 'file', path: 'ünï 文件/"q"', size: 0, detail: HASH }, `["file","ünï 文件/\\"q\\"",0,"${HASH}"]\n`],
  [{ type: 'file', path: 'tab\there\nnl', size: 1, detail: HASH }, `["file","tab\\there\\nnl",1,"${HASH}"]\n`],
])('fingerprintLine(%j)', (item, line) => {
  expect(fingerprintLine(item)).toBe(line);
});

test('digestListing sorts by UTF-8 bytes, counts files and bytes, and hashes the lines', () => {
  const items: ListingItem[] = [
    { type: 'file', path: 'b/é', size: 5, detail: HASH },
    { type: 'dir', path: 'b', size: 0, detail: '' },
    { type: 'symlink', path: 'a', size: 0, detail: 'b' },
    { type: 'file', path: 'b/z', size: 7, detail: HASH },
  ];
  const expectedLines = [items[2], items[1], items[3], items[0]].map((i) => fingerprintLine(i as ListingItem)).join('');
  const fp = digestListing(items);
  expect(fp).toEqual({
    fingerprint: createHash('sha256').update(expectedLines, 'utf8').digest('hex'),
    files: 2,
    bytes: 12,
    entries: 4,
  });
  expect(digestListing([...items].reverse())).toEqual(fp);
  expect(digestListing([]).fingerprint).toBe(createHash('sha256').digest('hex'));
});

test.each<[ListingItem, ListingItem]>([
  [
    { type: 'file', path: 'a', size: 1, detail: HASH },
    { type: 'file', path: 'a', size: 1, detail: 'b'.repeat(64) },
  ],
  [
    { type: 'file', path: 'a', size: 1, detail: HASH },
    { type: 'file', path: 'b', size: 1, detail: HASH },
  ],
  [
    { type: 'file', path: 'a', size: 1, detail: HASH },
    { type: 'file', path: 'a', size: 2, detail: HASH },
  ],
  [
    { type: 'symlink', path: 'a', size: 0, detail: 'x' },
    { type: 'symlink', path: 'a', size: 0, detail: 'y' },
  ],
  [
    { type: 'dir', path: 'a', size: 0, detail: '' },
    { type: 'file', path: 'a', size: 0, detail: '' },
  ],
])('any change of one entry changes the fingerprint (%#)', (one, other) => {
  const rest: ListingItem = { type: 'dir', path: 'z', size: 0, detail: '' };
  expect(digestListing([one, rest]).fingerprint).not.toBe(digestListing([other, rest]).fingerprint);
});

test.each([
  ['./a/b/', 'a/b'],
  ['a/', 'a'],
  ['/abs/x', 'abs/x'],
  ['./', ''],
  ['plain', 'plain'],
])('normalizeEntryPath(%j) is %j', (raw, normalized) => {
  expect(normalizeEntryPath(raw)).toBe(normalized);
});

const links = new Set(['up/link', 'abs']);
test.each<[string, { path: string; type: string; linkpath?: string }, string | undefined]>([
  ['a plain file', { path: 'up/a.jpg', type: 'File' }, undefined],
  ['a folder with ./', { path: './up/', type: 'Directory' }, undefined],
  ['a name with two dots', { path: 'up/a..b', type: 'File' }, undefined],
  ['a link itself', { path: 'up/link', type: 'SymbolicLink', linkpath: '/etc' }, undefined],
  ['a sibling of a link', { path: 'up/linked', type: 'File' }, undefined],
  ['..', { path: '../x', type: 'File' }, "its path contains a '..' segment"],
  ['.. inside', { path: 'up/../../x', type: 'File' }, "its path contains a '..' segment"],
  ['a backslash ..', { path: 'up\\..\\..\\x', type: 'File' }, "its path contains a '..' segment"],
  ['an absolute path', { path: '/etc/passwd', type: 'File' }, 'its path is absolute'],
  ['a drive letter', { path: 'C:/x', type: 'File' }, 'its path is absolute'],
  ['below a link', { path: 'up/link/passwd', type: 'File' }, 'it would be written through the symbolic link "up/link"'],
  ['deep below a link', { path: 'abs/a/b', type: 'Directory' }, 'it would be written through the symbolic link "abs"'],
  [
    'a hard link outside',
    { path: 'h', type: 'Link', linkpath: '../../x' },
    'it is a hard link to a path outside the target',
  ],
  [
    'an absolute hard link',
    { path: 'h', type: 'Link', linkpath: '/etc/shadow' },
    'it is a hard link to a path outside the target',
  ],
  ['a hard link inside', { path: 'h', type: 'Link', linkpath: 'up/a.jpg' }, undefined],
])('entryProblem: %s', (_name, entry, problem) => {
  expect(entryProblem(entry, links)).toBe(problem);
});

const recorded = { fingerprint: 'f'.repeat(64), files: 3, bytes: 30 };
test.each<[string, { fingerprint: string; files: number; bytes: number }, RegExp[]]>([
  ['the same listing', { ...recorded }, []],
  [
    'one changed file',
    { ...recorded, fingerprint: 'e'.repeat(64) },
    [/^listing fingerprint e{64} where the manifest records f{64}/],
  ],
  [
    'a missing file',
    { fingerprint: 'e'.repeat(64), files: 2, bytes: 20 },
    [
      /^2 files where the manifest records 3$/,
      /^20 bytes of files where the manifest records 30$/,
      /^listing fingerprint/,
    ],
  ],
])('compareListing: %s', (_name, found, problems) => {
  const got = compareListing(recorded, { ...found, entries: 9 });
  expect(got).toHaveLength(problems.length);
  problems.forEach((p, i) => expect(got[i]).toMatch(p));
});
