#!/usr/bin/env node
// Backup benchmark: builds a realistic database on a throwaway local PostgreSQL, starts a local
// S3-compatible server (s3rver), and times side by side, in rounds of one run of each stage:
//   the physical limit (pg_dump -Fc -Z0 > /dev/null), pg_dump's default (-Fc, gzip),
//   a typical peer pipeline (pg_dump -Fc -f file, then upload the file with @aws-sdk/lib-storage),
//   the dump with the default compression and nothing stored (pg_dump -Fc -Z0 | zstd -3 > /dev/null),
//   a hand-made stream (pg_dump | zstd -3 | an SDK upload from stdin: no hash, counts or manifest),
//   this action (dist/index.js, run as a runner runs it) to S3 and to file://, directory format
//   with 2 jobs, exact vs estimated row counts, verify: content (row fingerprints) vs verify: counts;
//   and the fixed cost: the same on the sample shop
//   database (scripts/sample-db at scale 1, ~23 MB).
// The large database is built by the bench's own pgbench-like generator (pgbench tables plus
// documents with TOASTed text, jsonb and random bytea), or with --sample-db by scripts/sample-db at
// scale 78 per GB (the shop: orders, line items, payments, monthly event partitions, large objects).
// It samples the peak RSS of the action's Node process and of its children, and the temporary
// disk used, counts the CPU seconds of the whole machine, of the PostgreSQL server (the postmaster
// and its children, exited backends included) and of the S3 server, and writes docs/benchmarks.md.
//
// Usage: npm run bench -- [--scale GB] [--reps N] [--sample-db] [--out docs/benchmarks.md] [--verify-only]
//        npm run bench -- --databases N [--db-scale S] [--reps N] [--out docs/benchmarks.md]
// --databases N: instead of all the above, N small sample databases backed up with `database: all`
// (bench/databases.mjs), written to the section "## Many small databases" of the --out file.
// --verify-only: only the physical limit and the two backups that differ in `verify` (content vs
// counts), printed with their ratio; docs/benchmarks.md is written only when --out is given.
// Needs: PostgreSQL server binaries (npm run setup), zstd, GNU stdbuf,
// dist/ built. Cleans up after itself.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureRun } from './proc.mjs';
import { startBenchS3 } from './s3rver.mjs';
import { actionDefaults, asPg, loadSampleInto, log, run, startBenchServer } from './cluster.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SCALE_GB = Number(arg('scale', '1'));
const REPS = Number(arg('reps', '3'));
const OUT = path.resolve(ROOT, arg('out', 'docs/benchmarks.md'));
/** --sample-db: build the large database with scripts/sample-db instead of the pgbench-like generator. */
const SAMPLE_DB = args.includes('--sample-db');
/** --verify-only: measure only what the `verify` input costs (see the usage above). */
const VERIFY_ONLY = args.includes('--verify-only');
/** scripts/sample-db's scale for the large database: ~12.7 MB per unit above ~10 MB, so 78 per GB. */
const SAMPLE_DB_SCALE = String(Math.max(0.01, Math.round(SCALE_GB * 78 * 100) / 100));
/** The small database of the fixed-cost rows: the project's sample shop at this scale (~23 MB). */
const SMALL_SCALE = '1';
const BIN =
  process.env.PG_BIN_DIR ??
  readdirSync('/usr/lib/postgresql')
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => `/usr/lib/postgresql/${v}/bin`)[0];
// The action runs on the runtime action.yml declares (node24), installed by .ci/run into .tmp/node24;
// BENCH_NODE overrides, and without Node 24 this Node is used (the report says which).
const NODE24 = path.join(ROOT, '.tmp', 'node24', 'node_modules', 'node', 'bin', 'node');
const NODE = process.env.BENCH_NODE ?? (existsSync(NODE24) ? NODE24 : process.execPath);
const NODE_VERSION = execFileSync(NODE, ['-p', 'process.versions.node']).toString().trim();

if (!(SCALE_GB > 0) || !(REPS >= 1)) throw new Error('--scale must be > 0 and --reps ≥ 1');
if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: npm run build');

if (args.includes('--databases')) {
  // Many small databases instead (bench/databases.mjs): its own cluster, stages and section.
  const count = Number(arg('databases'));
  const scale = arg('db-scale', '0.01');
  if (!(Number.isInteger(count) && count >= 1)) throw new Error('--databases must be a whole number ≥ 1');
  const { benchDatabases } = await import('./databases.mjs');
  await benchDatabases({
    root: ROOT,
    bin: BIN,
    node: NODE,
    nodeVersion: NODE_VERSION,
    count,
    scale,
    reps: REPS,
    out: OUT,
    command: `npm run bench -- ${args.join(' ')}`,
  });
  process.exit(0);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'pg-bench-'));
let pgStarted = false;
let s3;
const cleanup = async () => {
  if (pgStarted) {
    try {
      run(asPg(`${BIN}/pg_ctl`, ['-D', path.join(work, 'data'), '-m', 'immediate', 'stop']));
    } catch {
      // already stopped
    }
  }
  s3?.kill();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', async () => {
  await cleanup();
  process.exit(130);
});

try {
  // ---------------------------------------------------------------- servers and data
  const port = startBenchServer(BIN, work, ['max_wal_size=4GB', 'shared_buffers=512MB']);
  pgStarted = true;
  /** libpq connection flags of the bench's server, as postgres over its socket. */
  const connArgs = ['-h', work, '-p', String(port), '-U', 'postgres'];
  const psqlArgs = (db) => [`${BIN}/psql`, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', ...connArgs, '-d', db];
  const psql = (sql, db = 'bench') => run([...psqlArgs(db), '-c', sql]).trim();
  /** Loads the project's sample shop into the new database `db` (scripts/sample-db/load.mjs). */
  const loadSampleDb = (db, scale) => {
    psql(`CREATE DATABASE ${db}`, 'postgres');
    loadSampleInto({ root: ROOT, bin: BIN, work, port }, db, scale);
  };
  const pgbenchScale = Math.max(1, Math.round(SCALE_GB * 45));
  const docs = Math.round(SCALE_GB * 120_000);
  if (SAMPLE_DB) {
    log(`building the database: scripts/sample-db at scale ${SAMPLE_DB_SCALE}`);
    loadSampleDb('bench', SAMPLE_DB_SCALE);
  } else {
    buildGenerated();
  }
  psql('VACUUM ANALYZE');
  const dbBytes = Number(psql("SELECT pg_database_size('bench')"));
  log(`database size ${(dbBytes / 1e9).toFixed(2)} GB`);
  // The sample shop, for the fixed cost of a run (most databases backed up this way are small).
  loadSampleDb('shop', SMALL_SCALE);
  psql('VACUUM ANALYZE', 'shop');
  const smallBytes = Number(psql("SELECT pg_database_size('shop')"));

  /** The bench's own generator: pgbench tables plus documents (TOASTed text, jsonb, ~10 % random bytea). */
  function buildGenerated() {
    psql('CREATE DATABASE bench', 'postgres');
    log(`building the database: pgbench -i -s ${pgbenchScale} + TOASTed text, jsonb and ~10 % random bytea`);
    run([`${BIN}/pgbench`, '-i', '-q', '-s', String(pgbenchScale), ...connArgs, 'bench'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    psql(`CREATE TABLE documents (id bigint PRIMARY KEY, title text, body text, meta jsonb, blob bytea)`);
    psql(`INSERT INTO documents SELECT g, 'Document ' || g,
          repeat('Lorem ipsum dolor sit amet ' || (g % 97) || ' consectetur adipiscing elit. ', 40),
          jsonb_build_object('id', g, 'tags', jsonb_build_array('a' || (g % 13), 'b' || (g % 7)), 'score', random()),
          CASE WHEN g % 10 = 0 THEN decode(string_agg(md5(random()::text), ''), 'hex') END
        FROM generate_series(1, ${docs}) g
        CROSS JOIN LATERAL (SELECT md5(random()::text) FROM generate_series(1, CASE WHEN g % 10 = 0 THEN 500 ELSE 1 END)) r(x)
        GROUP BY g`);
  }

  // s3rver in a process of its own (not this one, which samples memory every 50 ms).
  const s3rver = await startBenchS3(path.join(work, 's3'));
  s3 = s3rver.child;
  const { endpoint, clearBucket } = s3rver;

  // ---------------------------------------------------------------- measuring
  const pgEnv = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: 'bench' };

  /**
   * Runs argv, sampling RSS of the process and its descendants and the size of `watchDir`; counts
   * the CPU seconds of the whole machine (every process, this one's sampling included) and of the
   * S3 server while it runs.
   */
  /** One measured run (bench/proc.mjs measureRun) against this bench's servers. */
  const measured = (argv, { env = {}, watchDir } = {}) =>
    measureRun(argv, { env, watchDir, dataDir: path.join(work, 'data'), s3Pid: s3.pid });

  const actionInputs = (inputs) => {
    const env = actionDefaults(ROOT);
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
    return env;
  };

  // Stages are declared first and then run in rounds (one repetition of every stage per round),
  // so that drift on the machine (a checkpoint, another process) spreads over every stage alike.
  // Stages of the 1 GB database, then the same few on the sample shop (the `small` group: fixed cost).
  const stages = [];
  let currentGroup = 'main';
  const stage = (name, fn) => stages.push({ name, fn, group: currentGroup, runs: [] });
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const summary = ({ name, group: groupName, runs }) => {
    const secs = runs.map((r) => r.seconds).sort((a, b) => a - b);
    return {
      name,
      group: groupName,
      median: median(secs),
      cpu: median(runs.map((r) => r.cpuSeconds)),
      s3Cpu: median(runs.map((r) => r.s3CpuSeconds)),
      serverCpu: median(runs.map((r) => r.serverCpu)),
      min: secs[0],
      max: secs.at(-1),
      peakMainMb: runs[0].noNode ? undefined : Math.max(...runs.map((r) => r.peakMainMb)),
      peakChildrenMb: Math.max(...runs.map((r) => r.peakChildrenMb)),
      peakDiskMb: Math.max(...runs.map((r) => r.peakDiskMb ?? 0)),
      archiveMb: runs.at(-1).archiveBytes ? runs.at(-1).archiveBytes / 1e6 : undefined,
    };
  };

  const sh = (script) => ['sh', '-c', script];
  const pgDumpOnly = async (script, database = 'bench') => ({
    ...(await measured(sh(script), { env: { ...pgEnv, PGDATABASE: database } })),
    noNode: true,
  });
  stage('pg_dump -Fc -Z0 > /dev/null (physical limit)', () => pgDumpOnly(`"${BIN}/pg_dump" -Fc -Z0 > /dev/null`));
  const peerFile = path.join(work, 'peer.dump');
  stage('pg_dump -Fc > /dev/null (pg_dump default, gzip)', () => pgDumpOnly(`"${BIN}/pg_dump" -Fc > /dev/null`));
  // The work every backup with the default compression does, with nothing stored, no hash and no
  // row counts: pg_dump writing through a 1 MiB buffer (as the action runs it) into zstd -3.
  const dumpZstd = `stdbuf --output=1M "${BIN}/pg_dump" -Fc -Z0 | zstd -q -3 -T0`;
  stage('pg_dump -Fc -Z0 | zstd -3 > /dev/null (dump and default compression, nothing stored)', () =>
    pgDumpOnly(`${dumpZstd} > /dev/null`),
  );
  stage('peer: pg_dump -Fc -f file, then upload (lib-storage)', async () => {
    const dump = await measured(sh(`"${BIN}/pg_dump" -Fc -f "${peerFile}"`), { env: pgEnv });
    const up = await measured([
      NODE,
      path.join(ROOT, 'bench', 'upload-file.mjs'),
      endpoint,
      'bench',
      'peer/peer.dump',
      peerFile,
    ]);
    const archiveBytes = statSync(peerFile).size;
    rmSync(peerFile);
    clearBucket();
    return {
      seconds: dump.seconds + up.seconds,
      cpuSeconds: dump.cpuSeconds + up.cpuSeconds,
      serverCpu: dump.serverCpu + up.serverCpu,
      s3CpuSeconds: dump.s3CpuSeconds + up.s3CpuSeconds,
      peakMainMb: up.peakMainMb,
      peakChildrenMb: dump.peakMainMb,
      peakDiskMb: archiveBytes / 1e6,
      archiveBytes,
    };
  });
  // The same stream to the same server, made by hand: the floor for storing it there with the SDK.
  stage(
    'hand-made stream: pg_dump -Fc -Z0 | zstd -3 | SDK upload from stdin (lib-storage; no sha256, row counts or manifest)',
    async () => {
      const r = await measured(
        sh(
          `${dumpZstd} | "${NODE}" "${path.join(ROOT, 'bench', 'upload-file.mjs')}" "${endpoint}" bench stream/s.dump.zst -`,
        ),
        { env: pgEnv },
      );
      clearBucket();
      return { ...r, noNode: true };
    },
  );
  const action = (name, inputs, extra = {}) =>
    stage(name, async () => {
      const runnerTemp = mkdtempSync(path.join(work, 'runner-'));
      const outFile = path.join(runnerTemp, 'out');
      writeFileSync(outFile, '');
      const r = await measured([NODE, path.join(ROOT, 'dist', 'index.js')], {
        env: {
          ...actionInputs({
            'database-url': `postgres://postgres@127.0.0.1:${port}/bench`,
            summary: 'false',
            'issue-on-failure': 'false',
            ...inputs,
          }),
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          GITHUB_OUTPUT: outFile,
          RUNNER_TEMP: runnerTemp,
        },
        watchDir: runnerTemp,
      });
      const size = /size-bytes<<(\S+)\n(\d+)/.exec(readFileSync(outFile, 'utf8'));
      rmSync(runnerTemp, { recursive: true, force: true });
      clearBucket();
      if (extra.after) extra.after();
      return { ...r, archiveBytes: size ? Number(size[2]) : undefined };
    });
  // verify: content reads each table once more, beside pg_dump, for its exact count and fingerprint.
  action('action → S3 (custom, zstd, exact row counts, verify: content)', {
    destination: 's3://bench/a',
    's3-endpoint': endpoint,
    verify: 'content',
  });
  action('action → S3 (custom, zstd, exact row counts, verify: counts)', {
    destination: 's3://bench/a',
    's3-endpoint': endpoint,
    verify: 'counts',
  });
  action('action → S3 (custom, zstd level 1)', {
    destination: 's3://bench/a',
    's3-endpoint': endpoint,
    compression: 'zstd:1',
  });
  action('action → S3 (custom, zstd, estimated row counts)', {
    destination: 's3://bench/a',
    's3-endpoint': endpoint,
    'row-counts': 'estimate',
  });
  const folder = path.join(work, 'folder');
  action(
    'action → file:// (custom, zstd)',
    { destination: `file://${folder}` },
    { after: () => rmSync(folder, { recursive: true, force: true }) },
  );
  action('action → S3 (directory, jobs 2, zstd)', {
    destination: 's3://bench/d',
    's3-endpoint': endpoint,
    format: 'directory',
    jobs: '2',
  });

  // Encryption: an OpenPGP public key made by gpg, as users make theirs.
  const gnupg = mkdtempSync(path.join(work, 'gnupg-'));
  run(
    [
      'gpg',
      '--homedir',
      gnupg,
      '--batch',
      '--passphrase',
      '',
      '--quick-gen-key',
      'Bench <bench@example.com>',
      'default',
      'default',
      'never',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const publicKey = run(['gpg', '--homedir', gnupg, '--armor', '--export', 'bench@example.com']);
  // The gpg command line encrypts, outside the action's process (OpenPGP.js inside it only when gpg cannot).
  action('action → S3 (custom, zstd, encrypted to a public key)', {
    destination: 's3://bench/e',
    's3-endpoint': endpoint,
    'encryption-public-key': publicKey,
  });
  action('action → S3 (custom, zstd, encrypted with a passphrase)', {
    destination: 's3://bench/p',
    's3-endpoint': endpoint,
    'encryption-passphrase': 'bench passphrase',
  });

  // Restore drill vs a plain restore of the same archive from a local file.
  const drillFolder = path.join(work, 'drill');
  const made = mkdtempSync(path.join(work, 'runner-'));
  writeFileSync(path.join(made, 'out'), '');
  await measured([NODE, path.join(ROOT, 'dist', 'index.js')], {
    env: {
      ...actionInputs({
        'database-url': `postgres://postgres@127.0.0.1:${port}/bench`,
        destination: `file://${drillFolder}`,
        summary: 'false',
        'issue-on-failure': 'false',
      }),
      GITHUB_OUTPUT: path.join(made, 'out'),
      RUNNER_TEMP: made,
    },
  });
  const archiveKey = /backup-key<<(\S+)\n(.+)/.exec(readFileSync(path.join(made, 'out'), 'utf8'))[2];
  const archiveFile = path.join(drillFolder, archiveKey);
  action('restore drill (action: download, verify sha256, pg_restore, count rows)', {
    command: 'drill',
    'database-url': '',
    database: 'bench',
    destination: `file://${drillFolder}`,
    'target-database-url': `postgres://postgres@127.0.0.1:${port}/drill_scratch`,
  });
  stage('zstd -d -c file | pg_restore (same archive, local file)', async () => {
    psql('CREATE DATABASE restore_plain', 'postgres');
    const restoreCmd = archiveFile.endsWith('.zst')
      ? `zstd -q -d -c "${archiveFile}" | "${BIN}/pg_restore" --exit-on-error -d restore_plain`
      : `"${BIN}/pg_restore" --exit-on-error -d restore_plain "${archiveFile}"`;
    const r = await measured(sh(restoreCmd), { env: { ...pgEnv, PGDATABASE: 'restore_plain' } });
    psql('DROP DATABASE restore_plain', 'postgres');
    return { ...r, noNode: true };
  });

  // The fixed cost of a run: start-up, connection, client checks, the SDK's load, the first
  // requests and the manifest weigh most on small databases.
  currentGroup = 'small';
  const smallUrl = `postgres://postgres@127.0.0.1:${port}/shop`;
  stage('pg_dump -Fc -Z0 > /dev/null (shop)', () => pgDumpOnly(`"${BIN}/pg_dump" -Fc -Z0 > /dev/null`, 'shop'));
  action('action → S3 (shop)', { 'database-url': smallUrl, destination: 's3://bench/s', 's3-endpoint': endpoint });
  action(
    'action → file:// (shop)',
    { 'database-url': smallUrl, destination: `file://${folder}` },
    { after: () => rmSync(folder, { recursive: true, force: true }) },
  );

  if (VERIFY_ONLY) {
    const keep = (s) => s.name.includes('verify:') || s.name.startsWith('pg_dump -Fc -Z0 > /dev/null (physical');
    stages.splice(0, stages.length, ...stages.filter(keep));
  }
  // One unmeasured dump first (cold caches), and a checkpoint before every run: the build's and the
  // restores' dirty pages would otherwise be written while the next stage runs, and slow it.
  psql('CHECKPOINT');
  await measured(sh(`"${BIN}/pg_dump" -Fc -Z0 > /dev/null`), { env: pgEnv });
  for (let i = 0; i < REPS; i++) {
    for (const s of stages) {
      psql('CHECKPOINT');
      s.runs.push(await s.fn(i));
      const r = s.runs.at(-1);
      log(
        `${s.name} #${i + 1}: ${r.seconds.toFixed(2)} s, machine CPU ${r.cpuSeconds.toFixed(2)} s, PostgreSQL server CPU ${r.serverCpu.toFixed(2)} s, S3 server CPU ${r.s3CpuSeconds.toFixed(2)} s`,
      );
    }
  }
  const all = stages.map(summary);
  const results = all.filter((r) => r.group === 'main');
  const small = all.filter((r) => r.group === 'small');

  // ---------------------------------------------------------------- report
  const floor = results[0].median;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const pgVersion = psql('SHOW server_version');
  const cell = (name) => name.replace(/\|/g, '\\|');
  const rows = results.map(
    (r) =>
      `| ${cell(r.name)} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)}–${r.max.toFixed(2)} | ${(dbBytes / 1e6 / r.median).toFixed(0)} | ${(r.median / floor).toFixed(2)}× | ${r.cpu.toFixed(1)} | ${r.serverCpu.toFixed(1)} | ${r.s3Cpu >= 0.05 ? r.s3Cpu.toFixed(1) : '—'} | ${r.archiveMb === undefined ? '—' : r.archiveMb.toFixed(0)} | ${r.peakMainMb === undefined ? '—' : r.peakMainMb.toFixed(0)} | ${r.peakChildrenMb.toFixed(0)} | ${r.peakDiskMb ? r.peakDiskMb.toFixed(0) : '0'} |`,
  );
  const smallRows = small.map(
    (r) =>
      `| ${cell(r.name)} | ${r.median.toFixed(3)} | ${r.min.toFixed(3)}–${r.max.toFixed(3)} | ${r.cpu.toFixed(2)} | ${r.peakMainMb === undefined ? '—' : r.peakMainMb.toFixed(0)} |`,
  );
  const md = `# Benchmarks

Produced by \`npm run bench -- --scale ${SCALE_GB} --reps ${REPS}${SAMPLE_DB ? ' --sample-db' : ''}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${cpu},
${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM; the action and the peer's uploader run on Node ${NODE_VERSION}, s3rver in its own Node process,
PostgreSQL ${pgVersion} (server and pg_dump on the same machine), s3rver as the S3 server on 127.0.0.1.
${
  SAMPLE_DB
    ? `Database: ${(dbBytes / 1e9).toFixed(2)} GB (\`pg_database_size\`): the project's sample shop, \`scripts/sample-db\` at
scale ${SAMPLE_DB_SCALE} (\`--sample-db\`): customers, products, orders and line items, payments, events partitioned by
month, jsonb, bytea and large objects. Without \`--sample-db\` the bench builds its own pgbench tables and documents.`
    : `Database: ${(dbBytes / 1e9).toFixed(2)} GB (\`pg_database_size\`): pgbench tables at scale ${pgbenchScale} plus
${docs} documents with TOASTed text, jsonb and ~10 % incompressible bytea. With \`--sample-db\` the bench builds it
from the project's sample shop instead (\`scripts/sample-db\` at scale 78 per GB: orders, payments, monthly event
partitions, large objects).`
}

Every stage ran ${REPS} times, in rounds (one run of each stage per round; an unmeasured warm-up
dump first, and a CHECKPOINT before every run). MB/s is database size / median wall time. Peak RSS is sampled every 50 ms: "node" is the
measured Node process (the action, or the peer's uploader), "children" its child processes summed
(pg_dump, zstd, tar, gpg; for the peer row: pg_dump). Temp disk is the peak size of RUNNER_TEMP (for the
peer row: the dump file it uploads). CPU s counts every process of the machine (user and system
time from \`/proc/stat\`), PostgreSQL CPU s the server's processes (the postmaster's own and its
reaped children's time from \`/proc/<postmaster>/stat\`, plus its live children's), S3 server CPU s the s3rver process alone: both share the same ${os.cpus().length} cores.

| Stage | Median s | Min–max s | MB/s | vs limit | CPU s | PostgreSQL CPU s | S3 server CPU s | Archive MB | Peak RSS node MB | Peak RSS children MB | Temp disk MB |
|---|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Fixed cost, on the sample shop (${(smallBytes / 1e6).toFixed(0)} MB, \`scripts/sample-db\` at scale ${SMALL_SCALE}), in the same rounds:

| Stage | Median s | Min–max s | CPU s | Peak RSS node MB |
|---|---|---|---|---|
${smallRows.join('\n')}

## Targets

| Target | Measured | Met |
|---|---|---|
${targets(results).join('\n')}
`;
  if (!VERIFY_ONLY || args.includes('--out')) {
    // Keep the hand-written "## History" section (before/after of changes) across runs.
    const previous = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
    const history = previous.indexOf('\n## History');
    writeFileSync(OUT, history >= 0 ? `${md}${previous.slice(history)}` : md);
    log(`wrote ${path.relative(ROOT, OUT)}`);
  }
  console.log(md);
  const content = results.find((r) => r.name.includes('verify: content'));
  const counts = results.find((r) => r.name.includes('verify: counts'));
  if (content && counts)
    console.log(
      `verify: content vs verify: counts — wall ${(content.median / counts.median).toFixed(3)}× (${content.median.toFixed(2)} s vs ${counts.median.toFixed(2)} s), PostgreSQL server CPU ${(content.serverCpu / Math.max(counts.serverCpu, 0.001)).toFixed(3)}× (${content.serverCpu.toFixed(2)} s vs ${counts.serverCpu.toFixed(2)} s); content on by default needs wall ≤ 1.15×: ${content.median / counts.median <= 1.15 ? 'yes' : 'no'}`,
    );
} finally {
  await cleanup();
}

/** The issue's targets, from the medians above (ratios of wall times). */
function targets(results) {
  const m = (prefix) => results.find((r) => r.name.startsWith(prefix));
  const rows = [];
  const add = (label, value, limit, detail = '') =>
    rows.push(`| ${label.replace(/\|/g, '\\|')} | ${value.toFixed(2)}×${detail} | ${value <= limit ? 'yes' : 'no'} |`);
  const action = m('action → S3 (custom, zstd, exact');
  const peer = m('peer:');
  const limit = m('pg_dump -Fc -Z0');
  const enc = m('action → S3 (custom, zstd, encrypted to a public key');
  const encPass = m('action → S3 (custom, zstd, encrypted with a passphrase');
  const drill = m('restore drill');
  const plain = m('zstd -d -c file');
  if (action && peer)
    add(
      'backup ≤ 0.5× the peer pipeline',
      action.median / peer.median,
      0.5,
      ` (archive ${action.archiveMb?.toFixed(0)} MB vs ${peer.archiveMb?.toFixed(0)} MB)`,
    );
  if (action && limit) add('backup ≤ 1.5× pg_dump -Fc -Z0 > /dev/null', action.median / limit.median, 1.5);
  const counts = m('action → S3 (custom, zstd, exact row counts, verify: counts');
  if (action && counts)
    add(
      'verify: content ≤ 1.15× verify: counts (content on by default)',
      action.median / counts.median,
      1.15,
      ` (PostgreSQL CPU ${(action.serverCpu / Math.max(counts.serverCpu, 0.001)).toFixed(2)}×)`,
    );
  if (action && enc) add('encrypted (public key) ≤ 1.2× unencrypted', enc.median / action.median, 1.2);
  if (action && encPass) add('encrypted (passphrase) ≤ 1.2× unencrypted', encPass.median / action.median, 1.2);
  if (drill && plain) add('drill ≤ 1.15× zstd -d | pg_restore', drill.median / plain.median, 1.15);
  const ours = results.filter((r) => r.name.startsWith('action') || r.name.startsWith('restore drill'));
  const peak = (rs) => Math.max(...rs.map((r) => r.peakMainMb ?? 0));
  const plainRss = peak(ours.filter((r) => !r.name.includes('encrypted')));
  const encRss = peak(ours.filter((r) => r.name.includes('encrypted')));
  if (plainRss > 0)
    rows.push(
      `| peak RSS of the action's Node process ≤ 150 MB (every unencrypted backup row, drill) | ${plainRss.toFixed(0)} MB | ${plainRss <= 150 ? 'yes' : 'no'} |`,
    );
  if (encRss > 0)
    rows.push(
      `| peak RSS of the action's Node process ≤ 150 MB (encrypted backups) | ${encRss.toFixed(0)} MB | ${encRss <= 150 ? 'yes' : 'no'} |`,
    );
  return rows;
}
