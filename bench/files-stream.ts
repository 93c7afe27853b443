// One run of the files archive stream for bench/files.mjs (bundled by it with esbuild, run as a
// child so that each run's peak RSS is its own): select a tree, stream it as tar (GNU tar or
// node-tar's writer), fingerprint it as it flows (unless --no-tap), compress with the zstd CLI
// (level 3, as the action does), hash the compressed bytes and throw them away. Prints one JSON
// line: milliseconds (selection, stream), bytes in and out, the fingerprint, peak RSS of this process.
//
//   node <bundle> <root> <gnu-tar|node-tar> [--no-tap | --zlib | --through-node] [--tap-script PATH]
// gnu-tar with no flag: what the backup does (src/files/tap-tar.ts): tar → the files tap child
//   (--tap-script, the bundled src/files-tap.ts) → zstd, child to child.
// --through-node: the tar bytes read by this process, fingerprinted and written to zstd's stdin.
// --zlib: compress inside this process with Node's zlib zstd (Node 24) instead of the zstd CLI.
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { FingerprintTap } from '../src/files/fingerprint.js';
import { createTarStream, detectTarEngine, tarNames, type TarEngine } from '../src/files/tar.js';
import { openTappedTar } from '../src/files/tap-tar.js';
import { selectFiles } from '../src/files/walk.js';
import { createCompressor, detectCompressors } from '../src/pipeline/compression.js';
import { openPooledPipe, releaseChunk } from '../src/pipeline/pooled-pipe.js';
import { Meter } from '../src/pipeline/stages.js';

const [root, kind, ...rest] = process.argv.slice(2);
const tapAt = rest.indexOf('--tap-script');
const tapScript = tapAt >= 0 ? rest.splice(tapAt, 2)[1] : undefined;
const flag = rest[0];
if (!root || (kind !== 'gnu-tar' && kind !== 'node-tar'))
  throw new Error('usage: <root> <gnu-tar|node-tar> [--no-tap]');
const start = performance.now();
const selection = await selectFiles({ workspace: root, entries: ['.'] });
const selected = performance.now();
const engine: TarEngine = kind === 'gnu-tar' ? await detectTarEngine() : { kind: 'node-tar' };
const available = await detectCompressors();
const tee = kind === 'gnu-tar' && flag === undefined;
const tar = tee ? undefined : await createTarStream(selection, { workspace: root, engine });
const tap = flag === '--no-tap' || tee ? undefined : new FingerprintTap();
const meter = new Meter();
const discard = new Writable({
  write(chunk: Buffer, _e, callback) {
    releaseChunk(chunk);
    callback();
  },
});
const zstd3 = { method: 'zstd', level: 3, pgDumpCompress: '0', where: 'stream', suffix: '.zst' } as const;
let fingerprint = tap ? () => tap.result().fingerprint : () => undefined as string | undefined;
if (!tar) {
  const dir = process.env.TMPDIR ?? '/tmp';
  const gnu = engine as { kind: 'gnu-tar'; path: string };
  if (!tapScript) throw new Error('--tap-script is needed');
  const producer = openTappedTar(tarNames(selection, root), {
    workspace: root,
    tarPath: gnu.path,
    nodePath: process.execPath,
    tapScript,
  });
  fingerprint = () => producer.listing().fingerprint;
  const pipe = await openPooledPipe(dir);
  const compressor = createCompressor({ ...zstd3, engine: 'zstd-cli' }, available, pipe.childEnd);
  if (compressor?.kind !== 'child') throw new Error('the zstd CLI is needed');
  pipe.writtenBy(compressor.child);
  producer.pipeInto(compressor.child.stdin);
  await Promise.all([pipeline(pipe.output, meter, discard), compressor.child.done, producer.done]);
} else if (flag === '--zlib') {
  const zlib = createCompressor({ ...zstd3, engine: 'node-zlib' }, available, discard);
  if (zlib?.kind !== 'in-process') throw new Error("Node's zlib zstd is needed (Node 24)");
  await Promise.all([pipeline(tar.stream, tap ?? new PassThrough(), zlib.stream, meter, discard), tar.done]);
} else {
  const pipe = await openPooledPipe(process.env.TMPDIR ?? '/tmp');
  const compressor = createCompressor({ ...zstd3, engine: 'zstd-cli' }, available, pipe.childEnd);
  if (compressor?.kind !== 'child') throw new Error('the zstd CLI is needed');
  pipe.writtenBy(compressor.child);
  await Promise.all([
    tap ? pipeline(tar.stream, tap, compressor.child.stdin) : pipeline(tar.stream, compressor.child.stdin),
    pipeline(pipe.output, meter, discard),
    compressor.child.done,
    tar.done,
  ]);
}
const end = performance.now();
console.log(
  JSON.stringify({
    selectMs: Math.round(selected - start),
    totalMs: Math.round(end - start),
    files: selection.files,
    bytes: selection.bytes,
    zstBytes: meter.result().bytes,
    fingerprint: fingerprint(),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
