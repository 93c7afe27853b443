import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import { UploadError } from '../../src/errors.js';
import { parseDestination } from '../../src/storage/destination.js';
import { openPooledPipe, POOLED_READ_BYTES } from '../../src/pipeline/pooled-pipe.js';
import { spawnStage } from '../../src/pipeline/process.js';
import { LocalFolderStore } from '../../src/storage/local.js';
import { rejectionOf } from '../support/rejection.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Every file under `dir`, relative, '/'-separated, sorted (including temporary files). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

describe('LocalFolderStore', () => {
  let base: string;
  let root: string;
  let store: LocalFolderStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'local-store-'));
    root = join(base, 'my backups');
    const destination = parseDestination(pathToFileURL(root).href);
    if (destination.kind !== 'file') throw new Error('expected a file destination');
    expect(destination.root).toBe(root);
    store = new LocalFolderStore(destination);
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('upload round trip: creates folders, counts bytes, get and head', async () => {
    const chunks = Array.from({ length: 12 }, () => randomBytes(1024 * 1024));
    const expected = createHash('sha256');
    chunks.forEach((chunk) => expected.update(chunk));

    const result = await store.upload('db/app/2026-01-01T000000Z.dump', Readable.from(chunks));
    expect(result).toEqual({ key: 'db/app/2026-01-01T000000Z.dump', bytes: 12 * 1024 * 1024, parts: 1 });

    const info = await store.head('db/app/2026-01-01T000000Z.dump');
    expect(info?.size).toBe(12 * 1024 * 1024);
    expect(info?.lastModified).toBeInstanceOf(Date);

    const actual = createHash('sha256');
    for await (const chunk of await store.get('db/app/2026-01-01T000000Z.dump')) actual.update(chunk as Buffer);
    expect(actual.digest('hex')).toBe(expected.digest('hex'));
    expect(await filesUnder(root)).toEqual(['db/app/2026-01-01T000000Z.dump']);

    expect(await store.head('db/app/missing.dump')).toBeUndefined();
    expect(await store.head('db/app')).toBeUndefined(); // a folder is not an object
    await expect(store.get('db/app/missing.dump')).rejects.toThrow(/^There is no file .*missing\.dump/);
  });

  test("a child's output through a pooled pipe is written intact, each read buffer released once written", async () => {
    const data = randomBytes(20 * 1024 * 1024 + 3);
    await writeFile(join(base, 'source'), data);
    const pooled = await openPooledPipe(base);
    const child = spawnStage('cat', 'cat', [join(base, 'source')], { stdout: pooled.childEnd });
    pooled.writtenBy(child);
    const result = await store.upload('db/pooled.dump', pooled.output);
    await child.done;
    expect(result.bytes).toBe(data.length);
    expect((await readFile(join(root, 'db', 'pooled.dump'))).equals(data)).toBe(true);
    // Unreleased, every read would take a new buffer: at least 80 for 20 MiB. Released, the count is
    // what the streams hold at once: cat writes 128 KiB, so up to 1 MiB of chunks (8) in the pipe's
    // Readable and 8 more in the file writer's buffer, a batch being written and the next read: 14–22
    // seen on 2 cores, so the bound is half of 80, not a quarter (which failed 1 run in 8).
    expect(pooled.buffersAllocated()).toBeLessThan(data.length / POOLED_READ_BYTES / 2);
  });

  test('put is an exclusive create: a second write of a name is refused, the first kept, no temporary left', async () => {
    await store.put('db/manifest.json', '{"a":1}', 'application/json');
    const error = await rejectionOf(
      store.put('db/manifest.json', Buffer.from('{"a":2}'), 'application/json'),
      UploadError,
    );
    expect(error.message).toMatch(
      /^Writing .*db\/manifest\.json .* was refused: a file already exists under that name \(another run wrote it first\)\. Nothing was overwritten\.$/,
    );
    expect(await readFile(join(root, 'db/manifest.json'), 'utf8')).toBe('{"a":1}');
    expect(await filesUnder(root)).toEqual(['db/manifest.json']);
  });

  test('upload is an exclusive create too: the existing file is kept, the temporary file removed', async () => {
    await store.put('db/taken.dump', 'first', 'application/octet-stream');
    const error = await rejectionOf(store.upload('db/taken.dump', Readable.from([Buffer.from('second')])), UploadError);
    expect(error.message).toContain(
      'was refused: a file already exists under that name (another run wrote it first). Nothing was overwritten.',
    );
    expect(await readFile(join(root, 'db/taken.dump'), 'utf8')).toBe('first');
    expect(await filesUnder(root)).toEqual(['db/taken.dump']);
  });

  test('temporaries lists the .partial files a killed write leaves; removeTemporaries removes only them', async () => {
    await store.put('db/kept.dump', 'k', 'x');
    await mkdir(join(root, 'db'), { recursive: true });
    await writeFile(join(root, 'db', '.2026-01-01T000000Z.dump.0123456789ab.partial'), 'half');
    const found: { key: string; size: number }[] = [];
    for await (const t of store.temporaries('db/')) found.push({ key: t.key, size: t.size });
    expect(found).toEqual([{ key: 'db/.2026-01-01T000000Z.dump.0123456789ab.partial', size: 4 }]);
    const outcome = await store.removeTemporaries(['db/.2026-01-01T000000Z.dump.0123456789ab.partial', 'db/kept.dump']);
    expect(outcome.deleted).toEqual(['db/.2026-01-01T000000Z.dump.0123456789ab.partial']);
    expect(outcome.errors).toEqual([{ key: 'db/kept.dump', message: 'not a temporary file of this action' }]);
    expect(await filesUnder(root)).toEqual(['db/kept.dump']);
  });

  test('a body failing mid-stream leaves neither the final file nor a temporary file', async () => {
    const bodyError = new Error('pg_dump exited with code 1');
    let sent = 0;
    let whileWriting: string[] = [];
    const body = new Readable({
      read() {
        if (sent === 5) {
          whileWriting = readdirSync(join(root, 'db'));
          this.destroy(bodyError);
          return;
        }
        sent += 1;
        this.push(randomBytes(1024 * 1024));
      },
    });
    const error = await rejectionOf(store.upload('db/broken.dump', body), UploadError);
    expect(error.cause).toBe(bodyError);
    expect(error.message).toBe(
      `Writing ${join(root, 'db/broken.dump')} (destination ${pathToFileURL(root).href}, key 'db/broken.dump') failed: pg_dump exited with code 1; no file was left under that name.`,
    );
    expect(sent).toBe(5);
    // The data went to a temporary name, never to the final one …
    expect(whileWriting).toHaveLength(1);
    expect(whileWriting[0]).toMatch(/^\.broken\.dump\.[0-9a-f]{12}\.partial$/);
    // … which is gone after the failure.
    expect(await filesUnder(root)).toEqual([]);
  });

  test('abort via AbortSignal removes the temporary file', async () => {
    const controller = new AbortController();
    let sent = 0;
    const body = new Readable({
      read() {
        sent += 1;
        if (sent === 3) controller.abort(new Error('cancelled'));
        setTimeout(() => this.push(randomBytes(64 * 1024)), 2);
      },
    });
    const error = await rejectionOf(store.upload('db/aborted.dump', body, { signal: controller.signal }), UploadError);
    expect(error.message).toMatch(/aborted; no file was left under that name\.$/);
    expect(body.destroyed).toBe(true);
    expect(await filesUnder(root)).toEqual([]);
  });

  test('a failed upload keeps an existing file intact', async () => {
    await store.put('db/x.dump', 'old', 'application/octet-stream');
    const body = new Readable({
      read() {
        this.destroy(new Error('boom'));
      },
    });
    await rejectionOf(store.upload('db/x.dump', body), UploadError);
    expect(await readFile(join(root, 'db/x.dump'), 'utf8')).toBe('old');
  });

  test('list walks subfolders, skips temporary files, is sorted and filters by prefix', async () => {
    await store.put('b/2.dump', 'bb', 'x');
    await store.put('a/1.dump', 'a', 'x');
    await store.put('a/sub/3.dump', 'ccc', 'x');
    await store.put('top.json', '{}', 'x');
    await writeFile(join(root, 'a', '.1.dump.0123abcd.partial'), 'half');
    await writeFile(join(root, 'a', '.hidden'), 'kept: not a temporary name');
    await mkdir(join(root, 'empty'), { recursive: true });

    const all = await collect(store.list(''));
    expect(all.map((o) => [o.key, o.size])).toEqual([
      ['a/.hidden', 26],
      ['a/1.dump', 1],
      ['a/sub/3.dump', 3],
      ['b/2.dump', 2],
      ['top.json', 2],
    ]);
    expect(all.every((o) => o.lastModified instanceof Date)).toBe(true);
    expect((await collect(store.list('a/'))).map((o) => o.key)).toEqual(['a/.hidden', 'a/1.dump', 'a/sub/3.dump']);
    expect((await collect(store.list('a/sub'))).map((o) => o.key)).toEqual(['a/sub/3.dump']);
    expect(await collect(store.list('zzz/'))).toEqual([]);
  });

  test('list of a folder that does not exist yet is empty', async () => {
    expect(await collect(store.list(''))).toEqual([]);
  });

  test.each([
    [
      '../outside.dump',
      "Invalid key '../outside.dump': it has a '.' or '..' segment (keys must stay inside the destination folder)",
    ],
    [
      'db/../../outside.dump',
      "Invalid key 'db/../../outside.dump': it has a '.' or '..' segment (keys must stay inside the destination folder)",
    ],
    ['/etc/passwd', "Invalid key '/etc/passwd': it is absolute; keys are relative to the destination folder"],
    ['db//x.dump', "Invalid key 'db//x.dump': it has an empty path segment"],
    ['db\\x.dump', "Invalid key 'db\\x.dump': it contains '\\'; separate folders with '/'"],
    ['', "Invalid key '': it is empty"],
    [
      'db/.x.dump.abc.partial',
      "Invalid key 'db/.x.dump.abc.partial': names ending in '.partial' that start with '.' are reserved for temporary files",
    ],
  ])('key %j is rejected', async (key, message) => {
    const body = Readable.from([Buffer.from('data')]);
    const error = await rejectionOf(store.upload(key, body), UploadError);
    expect(error.message).toBe(message);
    expect(body.destroyed).toBe(true);
    await expect(store.put(key, 'x', 'text/plain')).rejects.toThrow(message);
    await expect(store.head(key)).rejects.toThrow(message);
    await expect(stat(join(base, 'outside.dump'))).rejects.toThrow(/ENOENT/);
  });

  test('delete reports missing and invalid keys as error entries', async () => {
    await store.put('db/1.dump', '1', 'x');
    await store.put('db/2.dump', '2', 'x');
    const result = await store.delete(['db/1.dump', 'db/missing.dump', '../escape', 'db/2.dump']);
    expect(result).toEqual({
      deleted: ['db/1.dump', 'db/2.dump'],
      errors: [
        { key: 'db/missing.dump', message: 'no such file' },
        {
          key: '../escape',
          message: "invalid key: it has a '.' or '..' segment (keys must stay inside the destination folder)",
        },
      ],
    });
    expect(await filesUnder(root)).toEqual([]);
  });
});
