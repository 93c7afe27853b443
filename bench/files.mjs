#!/usr/bin/env node
// Files-archive benchmark (issue 23: uploads and media beside the database). Generates a tree of
// --files files totalling --mb MiB under a temporary folder (half of each file random bytes, like
// photos, half repeated text), then times side by side, in --reps rounds, each run in its own
// process under /usr/bin/time (wall seconds, peak RSS of the largest process):
//   baseline   tar -cf - . | zstd -3 -T0 > /dev/null (a shell pipe: the speed to match, ± 15 %)
//   hashed     tar -cf - . | tee >(sha256sum) | zstd -3 -T0 | sha256sum: the same work as the stream
//              below (one SHA-256 over the tar, as the fingerprint hashes every file once, and one
//              over the compressed archive), still in a shell pipe
//   gnu-tar    this project's stream: selection, GNU tar fed the list on stdin, writing into the
//              files tap child (src/files-tap.ts: copies the bytes on, fingerprints the listing),
//              the tap into the zstd CLI, zstd's output through a pooled pipe, SHA-256 of it
//   gnu-node   the earlier stream: the tar bytes read by Node, fingerprinted and written to zstd
//   gnu-notap  gnu-node without the fingerprint tap (what the tap costs)
//   node-tar   the same with node-tar's writer instead of GNU tar
//   gnu-zlib   gnu-tar with Node's own zstd (zlib, Node 24: compression in libuv's threads, no zstd child)
// and deletes the tree. Prints a table; writes nothing else.
//
// Usage: node bench/files.mjs [--files 10000] [--mb 1024] [--reps 3] [--only baseline,gnu-tar] [--node PATH]
// --node: the Node.js that runs the stream (default: this one), e.g. a Node 24 as on runners.
// Needs: GNU tar, zstd, /usr/bin/time; esbuild (devDependency) to bundle bench/files-stream.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    mb: { type: 'string', default: '1024' },
    reps: { type: 'string', default: '3' },
    only: { type: 'string', default: 'baseline,hashed,gnu-tar,gnu-notap,node-tar' },
    node: { type: 'string', default: process.execPath },
  },
});
const files = Number(values.files);
const totalBytes = Number(values.mb) * 1024 * 1024;
const reps = Number(values.reps);
const variants = values.only.split(',');

const { build } = await import('esbuild');
const cacheDir = resolve('node_modules/.cache/bench-files');
mkdirSync(cacheDir, { recursive: true });
const bundle = join(cacheDir, `files-stream-${process.pid}.mjs`);
const tapScript = join(cacheDir, `files-tap-${process.pid}.cjs`);
const dir = mkdtempSync(join(tmpdir(), 'bench-files-'));
const root = join(dir, 'tree');

try {
  await build({
    entryPoints: ['bench/files-stream.ts'],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  await build({
    entryPoints: ['src/files-tap.ts'],
    outfile: tapScript,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  const made = generate(root);
  console.log(`tree: ${made.files} files, ${(made.bytes / 2 ** 20).toFixed(0)} MiB in ${made.folders} folders`);
  run('baseline'); // warm the page cache; not counted
  const results = Object.fromEntries(variants.map((v) => [v, []]));
  for (let rep = 0; rep < reps; rep += 1) {
    for (const variant of rep % 2 ? [...variants].reverse() : variants) results[variant].push(run(variant));
  }
  report(results);
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(bundle, { force: true });
  rmSync(tapScript, { force: true });
}

/** The tree: 100 files a folder; sizes vary ±50 % around the mean; half random, half text. */
function generate(at) {
  const mean = totalBytes / files;
  const pool = randomBytes(64 * 1024 * 1024);
  const text = Buffer.from('uploads/2024/05/invoice-000123.pdf created by user 42\n'.repeat(4096));
  let bytes = 0;
  let folders = 0;
  for (let i = 0; i < files; i += 1) {
    if (i % 100 === 0) {
      mkdirSync(join(at, `f${String(i / 100).padStart(3, '0')}`), { recursive: true });
      folders += 1;
    }
    const size = Math.max(1, Math.round(mean * (0.5 + ((i * 7919) % 101) / 100)));
    const randomPart = Math.floor(size / 2);
    const offset = (i * 1_048_573) % (pool.length - randomPart);
    const body = Buffer.alloc(size);
    pool.copy(body, 0, offset, offset + randomPart);
    for (let at2 = randomPart; at2 < size; at2 += text.length)
      text.copy(body, at2, 0, Math.min(text.length, size - at2));
    writeFileSync(join(at, `f${String(Math.floor(i / 100)).padStart(3, '0')}`, `file-${i}.bin`), body);
    bytes += size;
  }
  return { files, bytes, folders };
}

function run(variant) {
  const shell = {
    baseline: `tar -C '${root}' -cf - . | zstd -q -3 -T0 > /dev/null`,
    hashed: `tar -C '${root}' -cf - . | tee >(sha256sum > /dev/null) | zstd -q -3 -T0 | sha256sum > /dev/null`,
  }[variant];
  const command = shell
    ? ['bash', '-c', shell]
    : [
        values.node,
        bundle,
        root,
        variant === 'node-tar' ? 'node-tar' : 'gnu-tar',
        ...(variant === 'gnu-tar' ? ['--tap-script', tapScript] : []),
        ...({ 'gnu-notap': ['--no-tap'], 'gnu-zlib': ['--zlib'], 'gnu-node': ['--through-node'] }[variant] ?? []),
      ];
  const out = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M %U %S', ...command], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (out.status !== 0) throw new Error(`${variant} failed: ${out.stderr}`);
  const [, wall, rssKiB, user, sys] = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(out.stderr) ?? [];
  const inner = shell ? {} : JSON.parse(out.stdout.trim().split('\n').pop());
  return { wall: Number(wall), cpu: Number(user) + Number(sys), rssMiB: Math.round(Number(rssKiB) / 1024), ...inner };
}

function report(results) {
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(results.baseline?.map((r) => r.wall) ?? [NaN]);
  console.log(
    `\n${execFileSync('tar', ['--version'], { encoding: 'utf8' }).split('\n')[0]}, ${execFileSync('zstd', ['--version'], { encoding: 'utf8' }).trim()}, node ${execFileSync(values.node, ['--version'], { encoding: 'utf8' }).trim()}`,
  );
  console.log(
    '| run | wall s (median; all) | vs baseline | CPU s (user+sys, median) | peak RSS MiB (largest process) | selection ms | fingerprint |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [variant, rows] of Object.entries(results)) {
    const wall = median(rows.map((r) => r.wall));
    console.log(
      `| ${variant} | ${wall.toFixed(2)} (${rows.map((r) => r.wall.toFixed(2)).join(', ')}) | ${((wall / base - 1) * 100).toFixed(0)} % | ${median(rows.map((r) => r.cpu)).toFixed(2)} | ` +
        `${median(rows.map((r) => r.rssMiB))} | ${rows[0].selectMs ?? '-'} | ${rows[0].fingerprint?.slice(0, 12) ?? '-'} |`,
    );
  }
}
