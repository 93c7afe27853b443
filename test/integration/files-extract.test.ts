/**
 * Safe extraction of a files archive (src/files/extract.ts) against planted archives: `../`
 * paths, absolute paths, a symbolic link followed by an entry below it, a hard link pointing
 * outside; each is refused with a typed error and nothing is written outside the target. And the
 * target rules: a file, a non-empty folder (unless overwrite), a missing folder (created).
 */
import {
  existsSync,
  lstatSync,
  readlinkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Header } from 'tar';

import { FilesTargetError, UnsafeArchiveError } from '../../src/files/errors.js';
import { extractArchive } from '../../src/files/extract.js';
import { fingerprintFolder } from '../../src/files/fingerprint.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'files-extract-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Planted {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
  body?: string;
  linkpath?: string;
}

/** A tar archive written block by block, with whatever paths a tampered archive may hold. */
function plantedTar(entries: Planted[]): Readable {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'File';
    const header = new Header({
      path: e.path,
      type,
      size: type === 'File' ? body.length : 0,
      mode: type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date('2022-01-01T00:00:00Z'),
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && body.length) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Readable.from([Buffer.concat(blocks)]);
}

/** The error `promise` rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected a rejection');
  return outcome;
}

/** Everything under `dir` except the target, by relative path: what an extraction must not touch. */
function outsideTarget(target: string): string[] {
  const all: string[] = [];
  const walk = (folder: string, prefix: string) => {
    for (const name of readdirSync(folder)) {
      const rel = prefix ? `${prefix}/${name}` : name;
      if (join(dir, rel) === target) continue;
      all.push(rel);
      if (existsSync(join(folder, name)) && !name.includes('.')) walk(join(folder, name), rel);
    }
  };
  walk(dir, '');
  return all.sort();
}

test.each<[string, Planted[], RegExp]>([
  [
    'a ../ path',
    [
      { path: 'ok.txt', body: 'fine' },
      { path: '../escaped.txt', body: 'evil' },
    ],
    /'\.\.' segment/,
  ],
  ['a nested ../ path', [{ path: 'a/../../escaped.txt', body: 'evil' }], /'\.\.' segment/],
  ['an absolute path', [{ path: `/ABS/escaped.txt`, body: 'evil' }], /absolute/],
  [
    'a path through a symbolic link of the archive',
    [
      { path: 'a', type: 'SymbolicLink', linkpath: '..' },
      { path: 'a/escaped.txt', body: 'evil' },
    ],
    /through the symbolic link "a"/,
  ],
  [
    'a path through an absolute symbolic link',
    [
      { path: 'etc', type: 'SymbolicLink', linkpath: '/ABS' },
      { path: 'etc/passwd', body: 'evil' },
    ],
    /through the symbolic link "etc"/,
  ],
  [
    'a hard link to a path outside',
    [{ path: 'h', type: 'Link', linkpath: '../victim.txt' }],
    /hard link to a path outside/,
  ],
])('refuses %s, writing nothing outside the target', async (_name, entries, reason) => {
  writeFileSync(join(dir, 'victim.txt'), 'untouched');
  const before = outsideTarget(join(dir, 'target'));
  const target = join(dir, 'target');
  const error = await failure(
    extractArchive(plantedTar(entries.map((e) => ({ ...e, path: e.path.replace('/ABS', dir) }))), { target }),
  );
  expect(error).toBeInstanceOf(UnsafeArchiveError);
  expect(error).toMatchObject({ phase: 'restore' });
  expect(error.message).toMatch(reason);
  expect(outsideTarget(target)).toEqual(before);
  expect(readFileSync(join(dir, 'victim.txt'), 'utf8')).toBe('untouched');
  expect(existsSync(join(dir, 'escaped.txt'))).toBe(false);
  expect(existsSync(join(dir, 'passwd'))).toBe(false);
});

test('with overwrite, a symbolic link already in the target is replaced, never written through', async () => {
  const target = join(dir, 'target');
  mkdirSync(join(dir, 'outside'));
  mkdirSync(target);
  symlinkSync(join(dir, 'outside'), join(target, 'a'));
  await extractArchive(plantedTar([{ path: 'a/inside.txt', body: 'fine' }]), { target, overwrite: true });
  expect(readdirSync(join(dir, 'outside'))).toEqual([]);
  expect(lstatSync(join(target, 'a')).isDirectory()).toBe(true);
  expect(readFileSync(join(target, 'a/inside.txt'), 'utf8')).toBe('fine');
});

test('a target that is a file, or a non-empty folder without overwrite, is refused before reading', async () => {
  writeFileSync(join(dir, 'file'), 'x');
  const notFolder = await failure(
    extractArchive(plantedTar([{ path: 'a.txt', body: 'a' }]), { target: join(dir, 'file') }),
  );
  expect(notFolder).toBeInstanceOf(FilesTargetError);
  expect(notFolder.message).toMatch(/is not a folder/);
  mkdirSync(join(dir, 'full'));
  writeFileSync(join(dir, 'full/old.txt'), 'old');
  const notEmpty = await failure(
    extractArchive(plantedTar([{ path: 'a.txt', body: 'a' }]), { target: join(dir, 'full') }),
  );
  expect(notEmpty).toBeInstanceOf(FilesTargetError);
  expect(notEmpty.message).toMatch(/is not empty/);
  const result = await extractArchive(plantedTar([{ path: 'old.txt', body: 'new' }]), {
    target: join(dir, 'full'),
    overwrite: true,
  });
  expect(result).toEqual({ entries: 1, files: 1, bytes: 3 });
  expect(readFileSync(join(dir, 'full/old.txt'), 'utf8')).toBe('new');
});

test('a missing target is created; links pointing outside are kept as links, not followed', async () => {
  const target = join(dir, 'new/deeper');
  const planted: Planted[] = [
    { path: 'shared', type: 'SymbolicLink', linkpath: '/srv/shared' },
    { path: 'up', type: 'SymbolicLink', linkpath: '../..' },
    { path: 'd', type: 'Directory' },
    { path: 'd/f.txt', body: 'f' },
  ];
  await extractArchive(plantedTar(planted), { target });
  expect(readlinkSync(join(target, 'shared'))).toBe('/srv/shared');
  expect(readlinkSync(join(target, 'up'))).toBe('../..');
  expect(await fingerprintFolder(target)).toMatchObject({ files: 1, bytes: 1, entries: 4 });
});

test('a target that is a link to an empty folder is used', async () => {
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'via-link'));
  await extractArchive(plantedTar([{ path: 'a.txt', body: 'a' }]), { target: join(dir, 'via-link') });
  expect(readFileSync(join(dir, 'real/a.txt'), 'utf8')).toBe('a');
});
