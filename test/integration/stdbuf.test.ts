/**
 * pg_dump's stdout buffer (postgres/stdbuf.ts), against the real pg_dump and GNU stdbuf: the probe,
 * its refusals, and the effect itself. The effect is read from the kernel: a reaped child's I/O
 * counters are added to its parent's, so `syscw` in /proc/PID/io of a shell that only runs pg_dump
 * grows by pg_dump's write(2) calls (proc(5), "/proc/pid/io"). Not this process's counters: they
 * also take whatever else the test process writes meanwhile (one full run saw 86,945 writes).
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/parse.js';
import { asBackup } from '../support/config.js';
import { buildPgDumpArgs } from '../../src/postgres/dump-args.js';
import { processDumper } from '../../src/postgres/dumper.js';
import { libpqEnv } from '../../src/postgres/libpq.js';
import { detectStdbuf } from '../../src/postgres/stdbuf.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';

let cluster: Cluster;
let work: string;
/** A folder whose `pg_dump` runs the real one, then writes that child's write(2) calls to {@link countFile}. */
let countingBinDir: string;
let countFile: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'stdbuf-'));
  cluster = await startCluster();
  // Scale 0.5: a ~3.6 MB uncompressed dump, above the 2 MiB the effect is measured on. Without its
  // large objects: a plain dump writes each lowrite() call (16 kB of hex) in one piece, not in 4 KiB ones.
  await loadSampleDb(cluster, 'shop', 0.5);
  await cluster.psql('shop', 'SELECT count(lo_unlink(oid)) FROM pg_largeobject_metadata');
  countingBinDir = path.join(work, 'counting-bin');
  countFile = path.join(work, 'writes');
  mkdirSync(countingBinDir);
  // The shell writes nothing itself, and grep is still running (not reaped) when it reads.
  writeFileSync(
    path.join(countingBinDir, 'pg_dump'),
    `#!/bin/sh\n"${cluster.binDir}/pg_dump" "$@"\nstatus=$?\ngrep '^syscw:' /proc/$$/io > "${countFile}"\nexit $status\n`,
  );
  chmodSync(path.join(countingBinDir, 'pg_dump'), 0o755);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

/**
 * An uncompressed dump of the sample shop, read by Node: its bytes, the write calls it took, and the sha256
 * of its text without the `\restrict` / `\unrestrict` lines, whose key is random on every run
 * (pg_dump 15.14+, CVE-2025-8714); only meaningful for plain.
 */
async function dump(
  format: 'custom' | 'plain',
  stdbuf: string | undefined,
): Promise<{ bytes: number; sha256: string; writes: number }> {
  const inputs: Record<string, string> = {
    'database-url': cluster.url('shop'),
    destination: 'file:///tmp/unused',
    format,
  };
  const config = asBackup(parseConfig((name) => inputs[name] ?? ''));
  const child = processDumper(countingBinDir, () => undefined).start(
    'pg_dump',
    buildPgDumpArgs(config.dump, { compress: '0' }),
    libpqEnv(config.connection),
    stdbuf ? { stdbuf } : {},
  );
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
  await child.done;
  const writes = Number(/^syscw: (\d+)$/m.exec(readFileSync(countFile, 'utf8'))?.[1]);
  const all = Buffer.concat(chunks);
  const text = all.toString('latin1').replace(/^\\(un)?restrict \S+$/gm, '');
  return { bytes: all.length, sha256: createHash('sha256').update(text, 'latin1').digest('hex'), writes };
}

test.each(['custom', 'plain'] as const)(
  'the probe finds stdbuf for the real pg_dump, which then writes the same %s dump in 1 MiB blocks instead of 4 KiB',
  async (format) => {
    const stdbuf = await detectStdbuf(`${cluster.binDir}/pg_dump`);
    expect(stdbuf).toMatch(/\/stdbuf$/);

    const unbuffered = await dump(format, undefined);
    const buffered = await dump(format, stdbuf);
    expect(buffered.bytes).toBe(unbuffered.bytes);
    // A plain dump of an idle database is the same text every time (a custom one holds its start time).
    if (format === 'plain') expect(buffered.sha256).toBe(unbuffered.sha256);
    expect(unbuffered.bytes).toBeGreaterThan(2 * 1024 * 1024);
    // Without it, glibc writes a pipe in st_blksize (4096-byte) pieces; with it, one write per MiB,
    // plus the few writes Node makes meanwhile.
    expect(unbuffered.writes).toBeGreaterThan(unbuffered.bytes / 4096 - 10);
    expect(buffered.writes).toBeLessThan(unbuffered.bytes / (1024 * 1024) + 25);
  },
  60_000,
);

test('the probe refuses what would not work, and never throws', async () => {
  const script = (name: string, body: string): string => {
    const file = path.join(work, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const version = 'echo "pg_dump (PostgreSQL) 15.0"';
  // The control: a pg_dump that answers like the real one passes.
  expect(await detectStdbuf(script('ok/pg_dump', version))).toMatch(/\/stdbuf$/);
  // The loader reports a library it cannot preload on stderr and runs on: such a run is refused.
  expect(
    await detectStdbuf(script('stderr/pg_dump', `${version}; echo "ERROR: ld.so: object cannot be preloaded" >&2`)),
  ).toBeUndefined();
  expect(await detectStdbuf(script('fails/pg_dump', `${version}; exit 3`))).toBeUndefined();
  // Output that is not the program's own version line.
  expect(await detectStdbuf(script('other-tool', version))).toBeUndefined();
  expect(await detectStdbuf(path.join(work, 'missing', 'pg_dump'))).toBeUndefined();
  // Not Linux: no probe at all, even with a working pg_dump.
  expect(await detectStdbuf(`${cluster.binDir}/pg_dump`, 'darwin')).toBeUndefined();
  // A PATH without stdbuf.
  const saved = process.env['PATH'];
  process.env['PATH'] = work;
  try {
    expect(await detectStdbuf(`${cluster.binDir}/pg_dump`)).toBeUndefined();
  } finally {
    process.env['PATH'] = saved;
  }
});
