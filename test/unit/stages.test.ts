import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExitGate, Fanout, Meter } from '../../src/pipeline/stages.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function slowSink(delayMs: number): Writable {
  return new Writable({ highWaterMark: 1024, write: (_c, _e, cb) => setTimeout(cb, delayMs) });
}

describe('stream stages', () => {
  test('Meter counts and hashes exactly the bytes that pass', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const meter = new Meter();
    const out = collect(meter);
    await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), meter);
    expect((await out).equals(data)).toBe(true);
    expect(meter.result()).toEqual({ bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  });

  test('Meter.result() before the end throws', () => {
    expect(() => new Meter().result()).toThrow('before the stream ended');
  });

  test('ExitGate ends the stream only when the checks pass', async () => {
    const gate = new ExitGate(() => [Promise.resolve(), new Promise((r) => setTimeout(r, 30))]);
    const out = collect(gate);
    await pipeline(Readable.from([Buffer.from('abc')]), gate);
    expect((await out).toString()).toBe('abc');
  });

  test('ExitGate turns a failed check into a stream error instead of an end', async () => {
    const gate = new ExitGate(() => [Promise.reject(new Error('pg_dump exited with code 1'))]);
    let ended = false;
    gate.on('end', () => (ended = true));
    gate.resume();
    await expect(pipeline(Readable.from([Buffer.from('partial archive')]), gate)).rejects.toThrow(
      'pg_dump exited with code 1',
    );
    expect(ended).toBe(false);
  });

  test('Fanout copies every byte to every output, a slow one included', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const fanout = new Fanout(3);
    const fast = collect(fanout.outputs[0]!);
    const also = collect(fanout.outputs[1]!);
    const slow = pipeline(fanout.outputs[2]!, slowSink(1));
    await pipeline(Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)]), fanout);
    expect((await fast).equals(data)).toBe(true);
    expect((await also).equals(data)).toBe(true);
    await slow;
  });

  test('Fanout: a fast output runs ahead of a slow one by at most the stream buffers', async () => {
    const chunk = 64 * 1024;
    const data = randomBytes(12 * 1024 * 1024);
    const fanout = new Fanout(2);
    let slowBytes = 0;
    let fastBytes = 0;
    let lead = 0;
    const fast = pipeline(
      fanout.outputs[0]!,
      new Writable({
        write: (c: Buffer, _e, cb) => {
          fastBytes += c.length;
          lead = Math.max(lead, fastBytes - slowBytes);
          cb();
        },
      }),
    );
    const slow = pipeline(
      fanout.outputs[1]!,
      new Writable({
        highWaterMark: chunk,
        write: (c: Buffer, _e, cb) =>
          setTimeout(() => {
            slowBytes += c.length;
            cb();
          }, 1),
      }),
    );
    const chunks = Array.from({ length: data.length / chunk }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk));
    await Promise.all([pipeline(Readable.from(chunks), fanout), fast, slow]);
    expect(slowBytes).toBe(data.length);
    // The fan-out's and the outputs' buffers (1 MiB each) and the slow sink's: far less than the 12 MiB sent.
    expect(lead).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  test('Fanout drops a failed output and goes on with the others', async () => {
    const fanout = new Fanout(2);
    fanout.outputs[0]!.destroy(new Error('S3 down'));
    const good = collect(fanout.outputs[1]!);
    await pipeline(Readable.from([Buffer.from('one'), Buffer.from('two')]), fanout);
    expect((await good).toString()).toBe('onetwo');
  });

  test('Fanout errors when every output failed', async () => {
    const fanout = new Fanout(1);
    fanout.outputs[0]!.on('error', () => undefined);
    fanout.outputs[0]!.destroy(new Error('S3 down'));
    await expect(pipeline(Readable.from([Buffer.from('x')]), fanout)).rejects.toThrow('every destination failed');
  });

  test('an upstream error destroys every output with it', async () => {
    const fanout = new Fanout(2);
    const errors = fanout.outputs.map((o) => new Promise<Error>((resolve) => o.once('error', resolve)));
    fanout.outputs.forEach((o) => o.resume());
    const failing = new Readable({
      read() {
        this.destroy(new Error('dump failed'));
      },
    });
    await expect(pipeline(failing, fanout)).rejects.toThrow('dump failed');
    for (const e of await Promise.all(errors)) expect(e.message).toBe('dump failed');
  });
});
