#!/usr/bin/env node
// Encryption benchmark: throughput and peak RSS of the OpenPGP encryption stage
// (src/crypto/encrypt.ts, bundled here with esbuild) against a plain PassThrough and against
// `gpg --encrypt`, over pseudo-random (incompressible) data from a generator, 1 MiB chunks as the
// dump stream delivers them; then the wall time of a stream paced at ~150 MB/s (a fast pg_dump)
// through a SHA-256 meter, with and without the encryption stage.
// Each run is a child process of its own, so its peak RSS (getrusage maxrss) is its own.
//
// Usage: node bench/encryption.mjs [--gib 1] [--reps 3] [--rate 150] [--write docs/encryption.md]
// Needs: gpg (GnuPG 2.2) on PATH. Cleans up after itself (temporary GNUPGHOME and bundle).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MiB = 1024 * 1024;

if (arg('child')) await child();
else await main();

/** One measured run, in this process: prints a JSON line. */
async function child() {
  const variant = arg('child');
  const total = Number(arg('gib')) * 1024 * MiB;
  const rate = Number(arg('rate')) * 1e6; // bytes per second, paced variants only
  const block = randomBytes(64 * MiB); // pseudo-random: AES output is incompressible as well
  const chunks = function* () {
    for (let offset = 0; offset < total; offset += MiB) {
      const at = offset % block.length;
      yield block.subarray(at, at + MiB);
    }
  };
  const crypto = await import(pathToFileURL(arg('bundle')).href);
  const readKey = () => readFileSync(arg('key'), 'utf8');
  const stage = async (kind) => {
    if (kind === 'public-key')
      return (
        await crypto.createEncryptStage(
          await crypto.parseEncryptionInputs((n) => (n === 'encryption-public-key' ? readKey() : '')),
        )
      ).stream;
    if (kind === 'passphrase')
      return (await crypto.createEncryptStage({ mode: 'passphrase', passphrase: 'bench passphrase' })).stream;
    return new PassThrough({ highWaterMark: MiB });
  };
  const baseRss = process.memoryUsage().rss;
  let out = 0;
  const sink = () => new Writable({ highWaterMark: MiB, write: (c, _e, cb) => ((out += c.length), cb()) });
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let gpgPeakKiB = 0;
  if (variant === 'gpg') {
    const gpg = spawn(
      'gpg',
      [
        '--homedir',
        arg('home'),
        '--batch',
        '--trust-model',
        'always',
        '--compress-algo',
        'none',
        '-r',
        arg('fpr'),
        '--encrypt',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const poll = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${gpg.pid}/status`, 'utf8'));
        if (hwm) gpgPeakKiB = Math.max(gpgPeakKiB, Number(hwm[1]));
      } catch {
        // exited
      }
    }, 50);
    const exited = new Promise((resolve, reject) =>
      gpg.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`gpg exited ${code}`)))),
    );
    await Promise.all([pipeline(Readable.from(chunks()), gpg.stdin), pipeline(gpg.stdout, sink()), exited]);
    clearInterval(poll);
  } else if (variant.startsWith('paced-')) {
    // A source that never runs ahead of `rate` (token bucket), like a pg_dump child at that speed.
    const source = paced(chunks(), rate);
    const hash = createHash('sha256');
    const meter = new Transform({ highWaterMark: MiB, transform: (c, _e, cb) => (hash.update(c), cb(null, c)) });
    await pipeline(source, ...(variant === 'paced-public-key' ? [await stage('public-key')] : []), meter, sink());
  } else {
    await pipeline(Readable.from(chunks()), await stage(variant), sink());
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuShare = (cpu.user + cpu.system) / 1e6 / seconds;
  const maxRss = process.resourceUsage().maxRSS * 1024; // KiB → bytes
  console.log(
    JSON.stringify({
      variant,
      seconds,
      cpuShare,
      mbps: total / seconds / 1e6,
      out,
      maxRssMB: maxRss / 1e6,
      baseRssMB: baseRss / 1e6,
      gpgPeakMB: (gpgPeakKiB * 1024) / 1e6,
    }),
  );
}

function paced(iterator, rate) {
  const t0 = Date.now();
  let sent = 0;
  const it = iterator[Symbol.iterator]();
  return new Readable({
    highWaterMark: MiB,
    read() {
      const next = () => {
        const due = t0 + (sent / rate) * 1000;
        const wait = due - Date.now();
        if (wait > 1) return void setTimeout(next, wait);
        const { done, value } = it.next();
        if (done) return void this.push(null);
        sent += value.length;
        this.push(value);
      };
      next();
    },
  });
}

async function main() {
  const gib = Number(arg('gib', '1'));
  const reps = Number(arg('reps', '3'));
  const rate = Number(arg('rate', '150'));
  const write = arg('write');
  const loadBefore = os.loadavg()[0];
  const work = mkdtempSync(path.join(os.tmpdir(), 'enc-bench-'));
  const home = path.join(work, 'gnupg');
  const log = (...m) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...m);
  try {
    const { build } = await import('esbuild');
    const bundle = path.join(work, 'crypto.mjs');
    await build({
      // The encryption stage, and the parser of encryption-public-key that validates the key.
      stdin: {
        contents: "export * from './src/crypto/openpgp.ts'; export * from './src/config/openpgp-inputs.ts';",
        resolveDir: ROOT,
        loader: 'ts',
      },
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const gpg = (...a) => {
      const r = spawnSync(
        'gpg',
        ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...a],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`gpg ${a.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    spawnSync('mkdir', ['-m', '700', home]);
    gpg('--quick-gen-key', 'Bench <bench@example.com>', 'default', 'default', 'never'); // RSA-3072, gpg 2.2's default
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg('--with-colons', '--list-keys', 'bench@example.com'))[1];
    const key = path.join(work, 'public.asc');
    writeFileSync(key, gpg('--armor', '--export', fpr));
    const gpgVersion = spawnSync('gpg', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];

    const runOne = (variant) => {
      const r = spawnSync(
        process.execPath,
        [
          fileURLToPath(import.meta.url),
          '--child',
          variant,
          '--gib',
          String(gib),
          '--rate',
          String(rate),
          '--bundle',
          bundle,
          '--key',
          key,
          '--home',
          home,
          '--fpr',
          fpr,
        ],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      if (r.status !== 0) throw new Error(`${variant}: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop());
    };
    const variants = ['passthrough', 'public-key', 'passphrase', 'gpg', 'paced-plain', 'paced-public-key'];
    const results = Object.fromEntries(variants.map((v) => [v, []]));
    for (let rep = 1; rep <= reps; rep += 1) {
      for (const variant of variants) {
        const r = runOne(variant);
        results[variant].push(r);
        log(
          `rep ${rep} ${variant}: ${r.mbps.toFixed(0)} MB/s, ${r.seconds.toFixed(2)} s, CPU ${(100 * r.cpuShare).toFixed(0)} %, peak RSS ${r.maxRssMB.toFixed(0)} MB${r.gpgPeakMB ? `, gpg ${r.gpgPeakMB.toFixed(0)} MB` : ''}`,
        );
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const row = (label, v) => {
      const rs = results[v];
      const peak = Math.max(...rs.map((r) => r.maxRssMB));
      return `| ${label} | ${median(rs.map((r) => r.mbps)).toFixed(0)} | ${Math.max(...rs.map((r) => r.mbps)).toFixed(0)} | ${median(rs.map((r) => r.seconds)).toFixed(2)} | ${peak.toFixed(0)}${v === 'gpg' ? ` (gpg itself: ${Math.max(...rs.map((r) => r.gpgPeakMB)).toFixed(0)})` : ''} |`;
    };
    const plain = median(results['paced-plain'].map((r) => r.seconds));
    const enc = median(results['paced-public-key'].map((r) => r.seconds));
    const busy = (v) => `${(100 * median(results[v].map((r) => r.cpuShare))).toFixed(0)} %`;
    const cpu = os.cpus();
    const lines = [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`node bench/encryption.mjs --gib ${gib} --reps ${reps} --rate ${rate}\`: Node ${process.version}, OpenPGP.js ${JSON.parse(readFileSync(path.join(ROOT, 'node_modules/openpgp/package.json'), 'utf8')).version}, ${gpgVersion}, ${cpu.length} × ${cpu[0]?.model.trim()}, load average (1 min) at the start ${loadBefore.toFixed(2)}. ${gib} GiB of pseudo-random data in 1 MiB chunks; median and best of ${reps} runs; peak RSS is the process's maxrss (the 64 MiB source block included).`,
      '',
      '| Stage | MB/s (median) | MB/s (best) | seconds (median) | peak RSS, MB |',
      '| --- | ---: | ---: | ---: | ---: |',
      row('PassThrough (no encryption)', 'passthrough'),
      row('encrypt, public key (RSA-3072)', 'public-key'),
      row('encrypt, passphrase', 'passphrase'),
      row('`gpg --encrypt --compress-algo none` (reference)', 'gpg'),
      '',
      `A source paced at ${rate} MB/s (a fast pg_dump) → SHA-256 meter → sink, ${gib} GiB: ${plain.toFixed(2)} s without encryption, ${enc.toFixed(2)} s with the public-key stage: **${(enc / plain).toFixed(2)}×** the unencrypted wall time. The Node process was busy ${busy('paced-plain')} of the wall time without encryption and ${busy('paced-public-key')} with it (CPU time / wall time), which is the headroom left for the upload.`,
    ];
    const table = lines.join('\n');
    console.log(table);
    if (write) {
      const file = path.resolve(ROOT, write);
      const doc = readFileSync(file, 'utf8');
      const start = '<!-- bench:start -->';
      const end = '<!-- bench:end -->';
      if (!doc.includes(start) || !doc.includes(end)) throw new Error(`${write} has no ${start} … ${end} section`);
      writeFileSync(
        file,
        `${doc.slice(0, doc.indexOf(start) + start.length)}\n${table}\n${doc.slice(doc.indexOf(end))}`,
      );
      log(`wrote the figures into ${write}`);
    }
  } finally {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    rmSync(work, { recursive: true, force: true });
  }
}
