/**
 * Retention benchmark: list + plan + delete 10,000 backups (archive + manifest = 20,000 objects)
 * pruned by a GFS policy (7 daily, 4 weekly, 12 monthly, 5 yearly), against the local s3rver and
 * a local folder; median of 3 runs. Writes docs/retention-benchmark.md.
 *
 *   node bench/run-ts.mjs bench/retention.ts [--runs 3] [--backups 10000] [--out docs/retention-benchmark.md]
 *
 * Objects are seeded straight into s3rver's storage folder (its PUT path manages ~400 objects/s
 * in-process) and s3rver's deleteObject is replaced by the same logic without its per-delete
 * `readdirSync` of the key's folder (quadratic; see speedUpS3rverDeletes). Listing, DeleteObjects
 * and our code run unchanged over real HTTP.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Log } from '../src/log.js';
import { executePrune } from '../src/retention/execute.js';
import { planRetention } from '../src/retention/plan.js';
import type { RetentionPolicy } from '../src/retention/policy.js';
import { readCatalog, type BackupEntry } from '../src/storage/catalog.js';
import { parseDestination } from '../src/storage/destination.js';
import { createStore } from '../src/storage/index.js';
import { archiveKey, manifestKey } from '../src/storage/keys.js';
import type { ObjectStore } from '../src/storage/types.js';
import {
  bounded,
  speedUpS3rverDeletes,
  startS3Server,
  testS3Settings,
  type S3Server,
} from '../test/support/s3-server.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : (args[i + 1] ?? fallback);
};
const RUNS = Number(option('runs', '3'));
const BACKUPS = Number(option('backups', '10000'));
const OUT = option('out', 'docs/retention-benchmark.md');

const NOW = new Date('2026-11-25T12:30:00Z');
const HOUR = 3_600_000;
const GFS: RetentionPolicy = { daily: 7, weekly: 4, monthly: 12, yearly: 5, labels: [] };
const quietLog: Log = { info: () => undefined, warning: (m) => console.warn(m), group: (_n, fn) => fn() };

/** Hourly backups for the last year (up to `count`), daily before that. */
function archiveKeys(prefix: string, count: number): string[] {
  const keys: string[] = [];
  const hours = Math.min(count, 8760);
  for (let h = 1; h <= hours; h++)
    keys.push(
      archiveKey({ prefix, database: 'shop', time: new Date(NOW.getTime() - h * HOUR), extension: 'dump.zst' }),
    );
  for (let d = 1; keys.length < count; d++) {
    keys.push(
      archiveKey({
        prefix,
        database: 'shop',
        time: new Date(NOW.getTime() - hours * HOUR - d * 24 * HOUR),
        extension: 'dump.zst',
      }),
    );
  }
  return keys;
}

/** Writes `keys` into a folder tree (`objectFile(folder, name)` names the file of one key). */
async function seedFiles(
  root: string,
  keys: string[],
  write: (folder: string, name: string) => Promise<void>,
): Promise<void> {
  const folders = new Set<string>();
  await bounded(keys, 32, async (key) => {
    const parts = key.split('/');
    const name = parts.pop() as string;
    const folder = join(root, ...parts);
    if (!folders.has(folder)) {
      await mkdir(folder, { recursive: true });
      folders.add(folder);
    }
    await write(folder, name);
  });
}

function withManifests(archives: string[]): string[] {
  return archives.flatMap((k) => [k, manifestKey(k)]);
}

interface Timing {
  list: number;
  plan: number;
  delete: number;
  total: number;
  backups: number;
  deleted: number;
  kept: number;
  deleteRequests: number;
}

/** list + plan + delete once; seconds. */
async function pruneOnce(store: ObjectStore, requests: () => number): Promise<Timing> {
  const t0 = performance.now();
  const listed = new Set<string>();
  const catalog = await readCatalog(store, 'shop', listed);
  const t1 = performance.now();
  const plan = planRetention(catalog.backups, GFS, NOW);
  const t2 = performance.now();
  const before = requests();
  const execution = await executePrune(store, catalog, plan, { dryRun: false, listed, log: quietLog });
  const t3 = performance.now();
  if (execution.failed.length > 0) throw new Error(`${execution.failed.length} objects failed to delete`);
  return {
    list: (t1 - t0) / 1000,
    plan: (t2 - t1) / 1000,
    delete: (t3 - t2) / 1000,
    total: (t3 - t0) / 1000,
    backups: catalog.backups.length,
    deleted: execution.deleted.length,
    kept: execution.kept.length,
    deleteRequests: requests() - before,
  };
}

async function s3Runs(server: S3Server, runs: number, backups: number, tag: string): Promise<Timing[]> {
  const out: Timing[] = [];
  for (let run = 1; run <= runs; run++) {
    const bucket = `bench-${tag}-${run}`;
    await server.createBucket(bucket);
    const keys = withManifests(archiveKeys('prod', backups));
    const t = performance.now();
    await seedFiles(join(server.dir, bucket), keys, async (folder, name) => {
      const base = join(folder, `${name}._S3rver_`);
      await writeFile(`${base}object`, 'x');
      await writeFile(`${base}object.md5`, createHash('md5').update('x').digest('hex'));
      await writeFile(`${base}metadata.json`, '{"content-type":"application/octet-stream"}');
    });
    console.log(`s3 run ${run}: seeded ${keys.length} objects in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const store = createStore(parseDestination(`s3://${bucket}/prod`), testS3Settings(server.endpoint));
    const deletes = () =>
      server.responses.filter(
        (line) => line.startsWith(`POST /${bucket}?delete`) || line.startsWith(`POST /${bucket}/?delete`),
      ).length;
    const timing = await pruneOnce(store, deletes);
    store.close();
    console.log(`s3 run ${run}:`, timing);
    out.push(timing);
  }
  return out;
}

async function fileRuns(): Promise<Timing[]> {
  const out: Timing[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const root = await mkdtemp(join(tmpdir(), 'retention-bench-'));
    try {
      const keys = withManifests(archiveKeys('', BACKUPS));
      await seedFiles(root, keys, (folder, name) => writeFile(join(folder, name), 'x'));
      const store = createStore(parseDestination(pathToFileURL(root).href), testS3Settings('http://127.0.0.1:9'));
      const timing = await pruneOnce(store, () => 0);
      console.log(`file run ${run}:`, timing);
      out.push(timing);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  return out;
}

/** The planner alone over `count` synthetic entries; seconds per run. */
function planRuns(count: number): number[] {
  const entries: BackupEntry[] = archiveKeys('prod', count).map((key, i) => ({
    key,
    manifestKey: manifestKey(key),
    database: 'shop',
    time: new Date(NOW.getTime() - (i + 1) * HOUR),
    extension: 'dump.zst',
    size: 1,
    hasManifest: true,
  }));
  const out: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t = performance.now();
    planRetention(entries, GFS, NOW);
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const s = (seconds: number): string =>
  seconds < 0.1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(2)} s`;

function row(name: string, runs: Timing[]): string {
  const m = (f: (t: Timing) => number) => median(runs.map(f));
  const first = runs[0] as Timing;
  return `| ${name} | ${first.backups.toLocaleString('en-US')} (${(first.backups * 2).toLocaleString('en-US')} objects) | ${s(m((t) => t.list))} | ${s(m((t) => t.plan))} | ${s(m((t) => t.delete))} | **${s(m((t) => t.total))}** | ${first.deleted.toLocaleString('en-US')} / ${first.kept} | ${first.deleteRequests || '—'} |`;
}

const UNPATCHED = Number(option('unpatched-backups', '2000'));
const server = await startS3Server();
let s3: Timing[];
let unpatched: Timing[] = [];
let patchedSmall: Timing[] = [];
try {
  if (UNPATCHED > 0) unpatched = await s3Runs(server, 1, UNPATCHED, 'unpatched');
  speedUpS3rverDeletes();
  if (UNPATCHED > 0) patchedSmall = await s3Runs(server, 1, UNPATCHED, 'patched');
  s3 = await s3Runs(server, RUNS, BACKUPS, 'main');
} finally {
  await server.stop();
}
const files = await fileRuns();
const plan10k = planRuns(BACKUPS);
const plan100k = planRuns(100_000);

const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const doc = `# Retention benchmark

Time to **list + plan + delete** ${BACKUPS.toLocaleString('en-US')} backups (each an archive and its manifest:
${(BACKUPS * 2).toLocaleString('en-US')} objects) with a GFS policy (7 daily, 4 weekly, 12 monthly, 5 yearly), median of ${RUNS} runs.
Backups are hourly for the last year and daily before that, so nearly all of them are deleted.
Produced by \`node bench/run-ts.mjs bench/retention.ts\` (it rewrites this file).

Machine: ${nproc} CPU (\`nproc\`), ${cpu}, Node ${process.version}, ${process.platform}/${process.arch}. Generated ${new Date().toISOString().slice(0, 10)}.

| Destination | Backups | List (readCatalog) | Plan | Delete | Total | Deleted / kept | DeleteObjects requests |
|---|---|---|---|---|---|---|---|
${row('s3:// (s3rver 3.7.1 on 127.0.0.1)', s3)}
${row('file:// (local folder)', files)}

Planner alone (pure CPU, median of ${RUNS}): ${s(median(plan10k))} for ${BACKUPS.toLocaleString('en-US')} backups, ${s(median(plan100k))} for 100,000.

Notes:
- Deletes go in requests of at most 1,000 keys: per 1,000 backups one request for the archives, then
  one for the manifests (no globals request when the listing holds no globals file).
- s3rver is a local emulator: figures show our overhead and request pattern, not what AWS S3, R2 or
  B2 will do (there, each request's round trip dominates: ~20 DeleteObjects requests and ~20 list pages).
- The objects are seeded straight into s3rver's storage folder (not timed), and s3rver's
  \`deleteObject\` is replaced by the same logic without its \`readdirSync\` of the key's folder after
  each delete, which is quadratic in the folder size. Listing, DeleteObjects and our code run
  unchanged over real HTTP.${
    unpatched[0] && patchedSmall[0]
      ? ` Measured here with ${UNPATCHED.toLocaleString('en-US')} backups (one run each): delete ${s(unpatched[0].delete)} with s3rver's own deleteObject, ${s(patchedSmall[0].delete)} with the replacement.`
      : ''
  }
- s3rver's listing walks the whole bucket folder for every 1,000-key page, which dominates "List".
`;
await writeFile(OUT, doc);
console.log(`\nWrote ${OUT}\n\n${doc}`);
