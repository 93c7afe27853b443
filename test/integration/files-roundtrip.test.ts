/**
 * The files archive (src/files/) on a real tree: selection, the tar stream from both writers (GNU
 * tar and node-tar), the listing fingerprint from the stream and from disk, extraction, and the
 * stream through zstd and back. Nested folders, unicode and space names, links, an empty folder, a
 * fifo, a 20 MB file and 2,000 small files; modes, mtimes and links compared after the round trip.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { jest } from '@jest/globals';
import { list } from 'tar';

import { openFilesArchive } from '../../src/files/archive.js';
import { extractArchive } from '../../src/files/extract.js';
import { compareListing, FingerprintTap, fingerprintFolder } from '../../src/files/fingerprint.js';
import type { FileSelection } from '../../src/files/select.js';
import { createTarStream, detectTarEngine, type TarEngine } from '../../src/files/tar.js';
import { selectFiles } from '../../src/files/walk.js';
import { createCompressor, detectCompressors } from '../../src/pipeline/compression.js';
import { openPooledPipe } from '../../src/pipeline/pooled-pipe.js';
import { isChildProducer, spawnStage } from '../../src/pipeline/process.js';
import { buildUploads, observeTree } from '../support/files-tree.js';
import { buildTapScript } from '../support/tap-script.js';

jest.setTimeout(120_000);

let dir: string;
let workspace: string;
let outside: string;
let selection: FileSelection;
let gnu: TarEngine;
const warnings: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'files-roundtrip-'));
  workspace = join(dir, 'ws');
  outside = join(dir, 'elsewhere/media');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'poster.png'), 'png bytes');
  buildUploads(workspace);
  gnu = await detectTarEngine();
  selection = await selectFiles({ workspace, entries: ['uploads', outside, 'missing/*.txt'], optional: true });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Streams the archive through a fingerprint tap into memory. */
async function archive(engine: TarEngine): Promise<{ bytes: Buffer; tap: FingerprintTap }> {
  const tar = await createTarStream(selection, { workspace, engine, log: { warning: (m) => warnings.push(m) } });
  const tap = new FingerprintTap();
  const chunks: Buffer[] = [];
  await pipeline(tar.stream, tap, collect(chunks));
  await tar.done;
  return { bytes: Buffer.concat(chunks), tap };
}

function collect(chunks: Buffer[]): Writable {
  return new Writable({
    write: (chunk: Buffer, _e, callback) => {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
}

test('selection: the tree, its parents outside the workspace, the fifo skipped, the optional glob unmatched', () => {
  const paths = selection.entries.map((e) => e.path);
  const out = outside.slice(1);
  expect(paths).toContain('uploads/empty');
  expect(paths).toContain('uploads/with space/ünïcødé 文件/photo 1.jpg');
  expect(paths).toContain(`${out}/poster.png`);
  expect(paths).toContain(out.split('/').slice(0, 1).join('/')); // the parents of an absolute entry
  expect(paths).not.toContain('uploads/queue.fifo');
  expect(selection.skipped).toEqual([{ path: 'uploads/queue.fifo', kind: 'fifo' }]);
  expect(selection.unmatched).toEqual(['missing/*.txt']);
  expect(new Set(paths).size).toBe(paths.length);
  expect(selection.files).toBe(2000 + 8);
  const link = selection.entries.find((e) => e.path === 'uploads/link-to-a');
  expect(link).toMatchObject({ type: 'symlink', linkTarget: 'nested/deep/er/a.txt', size: 0 });
});

test.each([['gnu-tar'], ['node-tar']])(
  '%s: tar → extract round trip keeps contents, modes, mtimes and links',
  async (kind) => {
    const engine: TarEngine = kind === 'gnu-tar' ? gnu : { kind: 'node-tar' };
    if (kind === 'gnu-tar') expect(engine.kind).toBe('gnu-tar');
    const { bytes, tap } = await archive(engine);
    const names: string[] = [];
    await pipeline(Readable.from([bytes]), list({ onReadEntry: (e) => names.push(e.path) }));
    expect(names.every((n) => !n.startsWith('/') && !n.split('/').includes('..'))).toBe(true);
    const target = join(dir, `restored-${kind}`);
    const result = await extractArchive(Readable.from([bytes]), { target });
    const fromDisk = await fingerprintFolder(target);
    expect(tap.result()).toEqual(fromDisk);
    expect(tap.result()).toMatchObject({ files: selection.files, bytes: selection.bytes });
    expect(result.files).toBe(selection.files);
    const before = observeTree(join(workspace, 'uploads'));
    before.delete('queue.fifo');
    expect(observeTree(join(target, 'uploads'))).toEqual(before);
    expect(observeTree(join(target, outside.slice(1)))).toEqual(observeTree(outside));
  },
);

test('both writers give the same fingerprint', async () => {
  const [a, b] = await Promise.all([archive(gnu), archive({ kind: 'node-tar' })]);
  expect(a.tap.result()).toEqual(b.tap.result());
});

test('the tar stream through zstd and back extracts to the same fingerprint', async () => {
  const available = await detectCompressors();
  expect(available.zstdCli).toBeDefined();
  const tar = await createTarStream(selection, { workspace, engine: gnu });
  const tap = new FingerprintTap();
  const pipe = await openPooledPipe(dir);
  const plan = {
    method: 'zstd',
    level: 3,
    pgDumpCompress: '0',
    where: 'stream',
    engine: 'zstd-cli',
    suffix: '.zst',
  } as const;
  const compressor = createCompressor(plan, available, pipe.childEnd);
  if (compressor?.kind !== 'child') throw new Error('expected the zstd CLI');
  pipe.writtenBy(compressor.child);
  const compressed: Buffer[] = [];
  await Promise.all([
    pipeline(tar.stream, tap, compressor.child.stdin),
    pipeline(pipe.output, collect(compressed)),
    compressor.child.done,
    tar.done,
  ]);
  const zst = Buffer.concat(compressed);
  expect(zst.subarray(0, 4).toString('hex')).toBe('28b52ffd');
  const decompressor = spawnStage('zstd', available.zstdCli ?? 'zstd', ['-d', '-c', '-q'], { stdin: 'pipe' });
  decompressor.stdin?.end(zst);
  const target = join(dir, 'restored-zstd');
  await Promise.all([extractArchive(decompressor.stdout as Readable, { target }), decompressor.done]);
  expect(await fingerprintFolder(target)).toEqual(tap.result());
});

test('a listed file that vanished fails the stream (or its start) with a FilesArchiveError', async () => {
  const ghost = {
    ...selection,
    entries: [
      ...selection.entries,
      {
        path: 'uploads/ghost',
        source: join(workspace, 'uploads/ghost'),
        type: 'file' as const,
        size: 1,
        mode: 0o644,
        mtimeMs: 0,
      },
    ],
  };
  for (const engine of [gnu, { kind: 'node-tar' } as const]) {
    const attempt = async () => {
      const tar = await createTarStream(ghost, { workspace, engine });
      const sink = new PassThrough();
      sink.resume();
      await Promise.all([pipeline(tar.stream, sink), tar.done]);
    };
    await expect(attempt()).rejects.toMatchObject({ name: 'FilesArchiveError', phase: 'dump' });
  }
});

test.each([
  ['in Node', false],
  ['through the files tap child', true],
])('openFilesArchive (%s) warns, and a drill comparing listings finds one changed file', async (_, direct) => {
  const log: string[] = [];
  const opened = await openFilesArchive({
    workspace,
    entries: ['uploads', 'missing/*.txt'],
    optional: true,
    log: { warning: (m) => log.push(m) },
    tapScript: direct ? await buildTapScript(dir) : undefined,
  });
  expect(isChildProducer(opened.source)).toBe(direct);
  expect(log).toEqual([
    'files: uploads/queue.fifo is a fifo; special files are not archived.',
    'files: "missing/*.txt" matched nothing (files-optional: true).',
  ]);
  const target = join(dir, `drill-${String(direct)}`);
  await extractArchive(isChildProducer(opened.source) ? opened.source.stream() : opened.source, {
    target,
    phase: 'drill',
  });
  await opened.done;
  const recorded = opened.listing();
  expect(recorded).toMatchObject({ files: opened.selection.files, bytes: opened.selection.bytes });
  expect(compareListing(recorded, await fingerprintFolder(target))).toEqual([]);
  const changed = join(target, 'uploads/small/3/f7.txt');
  const bytes = readFileSync(changed);
  bytes[0] = bytes[0] === 0x41 ? 0x42 : 0x41;
  writeFileSync(changed, bytes);
  const problems = compareListing(recorded, await fingerprintFolder(target));
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(/^listing fingerprint [0-9a-f]{64} where the manifest records/);
});
