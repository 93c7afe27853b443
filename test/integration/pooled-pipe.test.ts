/**
 * The pooled pipe (src/pipeline/pooled-pipe.ts) with real child processes: the bytes arrive
 * intact, read buffers are reused only once every holder released them, and closing the reading
 * end stops the child like a closed pipe does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { openPooledPipe, POOLED_READ_BYTES, releaseChunk } from '../../src/pipeline/pooled-pipe.js';
import { killedByUs, spawnStage } from '../../src/pipeline/process.js';
import { Fanout } from '../../src/pipeline/stages.js';

const MiB = 1024 * 1024;
let dir: string;
let file: string;
let data: Buffer;
const sha256 = (b: Buffer | Buffer[]) =>
  [b]
    .flat()
    .reduce((h, x) => h.update(x), createHash('sha256'))
    .digest('hex');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pooled-pipe-'));
  file = join(dir, 'data.bin');
  data = randomBytes(24 * MiB + 333);
  writeFileSync(file, data);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sink that hands each chunk to `onChunk` and calls back after `delay` ms on every 7th chunk. */
function sink(onChunk: (chunk: Buffer) => void, delay = 0): Writable {
  let n = 0;
  return new Writable({
    write: (chunk: Buffer, _e, callback) => {
      onChunk(chunk);
      if (++n % 7 === 0) setTimeout(callback, delay);
      else callback();
    },
  });
}

test('delivers exactly what the child wrote, in a few reused buffers when chunks are released', async () => {
  const work = mkdtempSync(join(dir, 'w-'));
  const pooled = await openPooledPipe(work);
  expect(readdirSync(work)).toEqual([]); // the socket file and its directory are gone once connected
  const child = spawnStage('cat', 'cat', [file], { stdout: pooled.childEnd });
  const hash = createHash('sha256');
  let chunks = 0;
  await pipeline(
    pooled.output,
    sink((chunk) => {
      hash.update(chunk);
      chunks += 1;
      releaseChunk(chunk);
    }, 2),
  );
  await child.done;
  expect(hash.digest('hex')).toBe(sha256(data));
  expect(chunks).toBeGreaterThanOrEqual(data.length / POOLED_READ_BYTES);
  // Back-pressure bounds what is in flight (the stream buffers and the chunk being read): a few
  // buffers serve every read.
  expect(pooled.buffersAllocated()).toBeLessThan(chunks / 4);
});

/** Keeps `chunk` with its offset in the stream, to compare with the file once the stream ended. */
type Held = { at: number; chunk: Buffer };
const corrupted = (held: Held[]) =>
  held.filter(({ at, chunk }) => !chunk.equals(data.subarray(at, at + chunk.length))).length;

test('a chunk that is still held is never reused', async () => {
  const pooled = await openPooledPipe(dir);
  const child = spawnStage('cat', 'cat', [file], { stdout: pooled.childEnd });
  const held: Held[] = [];
  let at = 0;
  let chunks = 0;
  await pipeline(
    pooled.output,
    sink((chunk) => {
      // Every other chunk is released at once (its buffer is reused); the others are kept unreleased.
      if (chunks++ % 2 === 0) held.push({ at, chunk });
      else releaseChunk(chunk);
      at += chunk.length;
    }),
  );
  await child.done;
  expect(at).toBe(data.length);
  expect(held.length).toBeGreaterThan(20);
  expect(corrupted(held)).toBe(0);
  expect(pooled.buffersAllocated()).toBeLessThan(chunks);
});

test('through a fan-out, a chunk is reused only when every output released it', async () => {
  const pooled = await openPooledPipe(dir);
  const child = spawnStage('cat', 'cat', [file], { stdout: pooled.childEnd });
  const fanout = new Fanout(2);
  const [fast, slow] = fanout.outputs as [Fanout['outputs'][0], Fanout['outputs'][0]];
  // One output releases each chunk as soon as it has it; the other holds a window of 16 chunks
  // and releases a chunk only when it drops out of the window, then checks them all at the end.
  const fastHash = createHash('sha256');
  const window: Held[] = [];
  let bad = 0;
  let released = 0;
  let at = 0;
  const consumed = Promise.all([
    pipeline(
      fast,
      sink((chunk) => {
        fastHash.update(chunk);
        releaseChunk(chunk);
      }),
    ),
    pipeline(
      slow,
      sink((chunk) => {
        window.push({ at, chunk });
        at += chunk.length;
        if (window.length > 16) {
          const old = window.shift() as Held;
          bad += corrupted([old]);
          releaseChunk(old.chunk);
          released += 1;
        }
      }, 1),
    ),
  ]);
  await pipeline(pooled.output, fanout);
  await consumed;
  await child.done;
  expect(fastHash.digest('hex')).toBe(sha256(data));
  expect(at).toBe(data.length);
  expect(bad).toBe(0);
  expect(corrupted(window)).toBe(0);
  expect(pooled.buffersAllocated()).toBeLessThan(released);
});

test('destroying the output before the end stops the writer, which counts as stopped by us', async () => {
  const pooled = await openPooledPipe(dir);
  const child = spawnStage('yes', 'yes', [], { stdout: pooled.childEnd });
  pooled.writtenBy(child);
  await new Promise<void>((resolve) => pooled.output.once('data', () => resolve()));
  pooled.output.destroy();
  const exit = await child.done.then(
    () => 'exited 0',
    (error: unknown) => error,
  );
  // Not "exited with code 1: Connection reset by peer", which a reader closing early would cause.
  expect(exit).toMatchObject({ signal: 'SIGTERM' });
  expect(killedByUs(exit)).toBe(true);
});

test('a child that writes nothing: the output ends empty', async () => {
  const pooled = await openPooledPipe(dir);
  const child = spawnStage('true', 'true', [], { stdout: pooled.childEnd });
  pooled.writtenBy(child);
  let bytes = 0;
  await pipeline(
    pooled.output,
    sink((chunk) => (bytes += chunk.length)),
  );
  await child.done;
  expect(bytes).toBe(0);
  expect(pooled.buffersAllocated()).toBeLessThanOrEqual(1);
});
