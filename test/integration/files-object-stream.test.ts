/**
 * backup/object-stream.ts, the back half of the dump stream for any Node stream (the files
 * archive), against two folder destinations: what it stores is what it measured, and a producer
 * that fails (its stream errors, or it reports failure after its last byte) leaves nothing under
 * the keys: no object, no claim, no temporary file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';

import { streamObject, type ObjectStreamPlan } from '../../src/backup/object-stream.js';
import { openFilesArchive } from '../../src/files/archive.js';
import { FilesArchiveError } from '../../src/files/errors.js';
import { FingerprintTap } from '../../src/files/fingerprint.js';
import { detectCompressors } from '../../src/pipeline/compression.js';
import { isChildProducer, type ChildProducer } from '../../src/pipeline/process.js';
import { parseDestination } from '../../src/storage/destination.js';
import { createStore } from '../../src/storage/index.js';
import type { ObjectStore } from '../../src/storage/types.js';
import { buildTapScript } from '../support/tap-script.js';

const quiet = { info: () => undefined, warning: () => undefined, group: <T>(_: string, fn: () => Promise<T>) => fn() };
let root: string;
let stores: ObjectStore[];

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'object-stream-'));
  stores = ['a', 'b'].map((name) =>
    createStore(parseDestination(`file://${path.join(root, name)}`), {
      region: 'us-east-1',
      forcePathStyle: false,
      checksums: 'when_supported',
      timeoutSeconds: 120,
    }),
  );
});

afterEach(() => {
  for (const store of stores) store.close();
  rmSync(root, { recursive: true, force: true });
});

/** 4 MiB of varied bytes, in 64 KiB chunks; `fail` errors the stream after about half. */
function producer(fail?: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (fail && sent >= 2 * 1024 * 1024) {
        this.destroy(fail);
        return;
      }
      if (sent >= 4 * 1024 * 1024) {
        this.push(null);
        return;
      }
      const chunk = createHash('sha512').update(String(sent)).digest();
      this.push(Buffer.concat(Array.from({ length: 1024 }, () => chunk)));
      sent += chunk.length * 1024;
    },
  });
}

async function plan(
  source: Readable | ChildProducer,
  sourceDone: Promise<unknown>,
  method: 'zstd' | 'gzip' | 'none',
): Promise<ObjectStreamPlan> {
  return {
    what: 'the files archive',
    source,
    sourceDone,
    compression: { method, compressors: await detectCompressors() },
    encryption: undefined,
    stores,
    keys: ['app/2026-12-07T101010Z.files.tar.x', 'app/2026-12-07T101010Z.files.tar.x'],
    contentType: 'application/x-tar',
    expectedBytes: 4 * 1024 * 1024,
    log: quiet,
    tempDir: root,
    detectGpg: () => Promise.resolve(undefined),
  };
}

/** Every file under the two destinations (claims and `.partial` files included). */
function leftovers(): string[] {
  return ['a', 'b'].flatMap((name) =>
    readdirSync(path.join(root, name), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)),
  );
}

test.each(['zstd', 'gzip', 'none'] as const)(
  '%s: both stores hold what was measured',
  async (method) => {
    const streamed = await streamObject(await plan(producer(), Promise.resolve(), method));
    expect(streamed.uploads.map((u) => u.status)).toEqual(['fulfilled', 'fulfilled']);
    for (const name of ['a', 'b']) {
      const stored = readFileSync(path.join(root, name, 'app/2026-12-07T101010Z.files.tar.x'));
      expect([stored.length, createHash('sha256').update(stored).digest('hex')]).toEqual([
        streamed.measurement.bytes,
        streamed.measurement.sha256,
      ]);
      if (method === 'zstd')
        expect(execFileSync('zstd', ['-dc'], { input: stored, maxBuffer: 1 << 24 }).length).toBe(4 * 1024 * 1024);
    }
    for (const claim of streamed.claims) await claim?.release();
  },
  60_000,
);

test.each(['zstd', 'gzip'] as const)(
  '%s: a producer whose stream fails leaves nothing',
  async (method) => {
    const failure = new FilesArchiveError('tar: uploads/x: Cannot open: Permission denied');
    const done = Promise.reject(failure);
    done.catch(() => undefined);
    await expect(streamObject(await plan(producer(failure), done, method))).rejects.toBe(failure);
    expect(leftovers()).toEqual([]);
  },
  60_000,
);

test('a source that errors while its producer reports success still leaves nothing (zstd child)', async () => {
  const failure = new FilesArchiveError('read error in the middle');
  await expect(streamObject(await plan(producer(failure), Promise.resolve(), 'zstd'))).rejects.toThrow(
    'read error in the middle',
  );
  expect(leftovers()).toEqual([]);
}, 60_000);

test('a producer that fails after its last byte leaves nothing', async () => {
  const failure = new FilesArchiveError('tar exited with status 2');
  let fail: (error: Error) => void = () => undefined;
  const done = new Promise((_, reject) => (fail = reject));
  done.catch(() => undefined);
  const source = producer();
  source.on('end', () => fail(failure));
  await expect(streamObject(await plan(source, done, 'zstd'))).rejects.toBe(failure);
  expect(leftovers()).toEqual([]);
}, 60_000);

test('zstd and gpg as children: the stored message decrypts to the zstd stream of the bytes', async () => {
  const { detectGpg } = await import('../../src/crypto/gpg.js');
  const passphrase = 'object-stream test passphrase';
  const base = await plan(producer(), Promise.resolve(), 'zstd');
  const streamed = await streamObject({
    ...base,
    encryption: { mode: 'passphrase', passphrase },
    detectGpg,
  });
  expect(streamed.encryption?.engine).toBe('gpg');
  const stored = readFileSync(path.join(root, 'a', 'app/2026-12-07T101010Z.files.tar.x'));
  expect(createHash('sha256').update(stored).digest('hex')).toBe(streamed.measurement.sha256);
  const home = mkdtempSync(path.join(root, 'gpg-'));
  const zst = execFileSync(
    'gpg',
    ['--batch', '--quiet', '--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', passphrase, '-d'],
    { input: stored, maxBuffer: 1 << 24 },
  );
  expect(execFileSync('zstd', ['-dc'], { input: zst, maxBuffer: 1 << 24 }).length).toBe(4 * 1024 * 1024);
  for (const claim of streamed.claims) await claim?.release();
}, 60_000);

/** A tree of 30 files of 64 KiB under `root/tree`, opened as a tapped GNU tar (tar → files tap → zstd). */
async function tappedArchive(): Promise<Awaited<ReturnType<typeof openFilesArchive>>> {
  const tree = path.join(root, 'tree');
  mkdirSync(path.join(tree, 'up'), { recursive: true });
  for (let i = 0; i < 30; i += 1)
    writeFileSync(
      path.join(tree, 'up', `f${i}.bin`),
      createHash('sha512').update(String(i)).digest().toString('hex').repeat(500),
    );
  const archive = await openFilesArchive({
    workspace: tree,
    entries: ['up'],
    tapScript: await buildTapScript(root),
    socketDir: root,
  });
  expect(isChildProducer(archive.source)).toBe(true);
  return archive;
}

test.each(['zstd', 'gzip'] as const)(
  '%s: a tapped GNU tar stores the tar its fingerprint read',
  async (method) => {
    const archive = await tappedArchive();
    const streamed = await streamObject(await plan(archive.source, archive.done, method));
    expect(streamed.uploads.map((u) => u.status)).toEqual(['fulfilled', 'fulfilled']);
    const stored = readFileSync(path.join(root, 'a', 'app/2026-12-07T101010Z.files.tar.x'));
    const tar =
      method === 'zstd' ? execFileSync('zstd', ['-dc'], { input: stored, maxBuffer: 1 << 24 }) : gunzipSync(stored);
    const tap = new FingerprintTap();
    await pipeline(Readable.from([tar]), tap, new Writable({ write: (_c, _e, cb) => cb() }));
    expect(tap.result()).toEqual(archive.listing());
    expect(archive.listing().files).toBe(30);
    for (const claim of streamed.claims) await claim?.release();
  },
  60_000,
);

test('a tapped GNU tar whose file vanished fails the stream and leaves nothing', async () => {
  const archive = await tappedArchive();
  rmSync(path.join(root, 'tree', 'up', 'f7.bin'));
  await expect(streamObject(await plan(archive.source, archive.done, 'zstd'))).rejects.toMatchObject({
    name: 'FilesArchiveError',
  });
  expect(leftovers()).toEqual([]);
  expect(readdirSync(root).filter((n) => n.startsWith('pg-backup-'))).toEqual([]);
}, 60_000);
