// Many small databases (issue 22, `npm run bench -- --databases 20`): N copies of the project's
// sample shop (scripts/sample-db at --db-scale, default 0.01, its smallest) on a throwaway local
// PostgreSQL and s3rver in its own process; in rounds (one run of each stage per round) it times
//   the sum of N plain dumps: `pg_dump -Fc -Z0 > /dev/null`, and `pg_dump -Fc -Z0 | zstd -3` (the
//   action's default compression), one database after the other in one shell;
//   N runs of the action, one database each (a matrix by hand, run one after the other);
//   the action with `database: all` (the N databases; `postgres` excluded), sequential and with
//   `parallel-databases: 2`, to S3;
// with the wall time, the machine's CPU seconds, and the peak RSS of the measured process and of its
// children (sampled every 50 ms). Writes the section "## Many small databases" at the end of
// docs/benchmarks.md (replacing the previous one) and prints it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measureRun } from './proc.mjs';
import { startBenchS3 } from './s3rver.mjs';
import { actionDefaults, asPg, loadSampleInto, log, run, startBenchServer } from './cluster.mjs';

const HEADING = '## Many small databases';

/**
 * Runs the bench described above.
 * @param {{ root: string, bin: string, node: string, nodeVersion: string, count: number, scale: string,
 *   reps: number, out: string, command: string }} options `root` the repository, `bin` the PostgreSQL
 *   binaries, `node` the Node that runs the action, `count` databases, `scale` of each, `reps` rounds,
 *   `out` the markdown file, `command` the command line to quote in it.
 * @throws Error when a stage's process fails (with the end of its stderr), or the action's
 *   backups-json does not list `count` databases stored.
 */
export async function benchDatabases(options) {
  const { root, bin, node, nodeVersion, count, scale, reps, out, command } = options;
  const work = mkdtempSync(path.join(os.tmpdir(), 'pg-bench-dbs-'));
  const dataDir = path.join(work, 'data');
  let pgStarted = false;
  let s3;
  try {
    const port = startBenchServer(bin, work);
    pgStarted = true;
    const psql = (sql, db = 'postgres') =>
      run([
        `${bin}/psql`,
        '-X',
        '-q',
        '-At',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        work,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        db,
        '-c',
        sql,
      ]).trim();
    const names = Array.from({ length: count }, (_, i) => `sample_${String(i + 1).padStart(2, '0')}`);
    log(`loading ${count} sample databases at scale ${scale}`);
    for (const db of names) {
      psql(`CREATE DATABASE ${db}`);
      loadSampleInto({ root, bin, work, port }, db, scale);
      psql('VACUUM ANALYZE', db);
    }
    const eachBytes = Number(psql(`SELECT pg_database_size('${names[0]}')`));
    const totalBytes = Number(
      psql(`SELECT sum(pg_database_size(datname)) FROM pg_database WHERE datname LIKE 'sample\\_%'`),
    );

    const s3rver = await startBenchS3(path.join(work, 's3'));
    s3 = s3rver.child;
    const { endpoint, clearBucket } = s3rver;

    const pgEnv = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres' };
    const measured = (argv, env = {}) => measureRun(argv, { env, dataDir });

    const defaults = actionDefaults(root);
    /** One run of the bundle; returns its measurement and its outputs file's text. */
    const action = async (inputs) => {
      const runnerTemp = mkdtempSync(path.join(work, 'runner-'));
      const outFile = path.join(runnerTemp, 'out');
      writeFileSync(outFile, '');
      const env = { ...defaults, GITHUB_OUTPUT: outFile, RUNNER_TEMP: runnerTemp };
      for (const [k, v] of Object.entries({
        summary: 'false',
        'issue-on-failure': 'false',
        's3-endpoint': endpoint,
        ...inputs,
      }))
        env[`INPUT_${k.toUpperCase()}`] = v;
      const r = await measured([node, path.join(root, 'dist', 'index.js')], {
        ...env,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
      });
      const outputs = readFileSync(outFile, 'utf8');
      rmSync(runnerTemp, { recursive: true, force: true });
      return { r, outputs };
    };
    const url = (db) => `postgres://postgres@127.0.0.1:${port}/${db}`;
    const allDatabases = async (extra) => {
      const { r, outputs } = await action({
        'database-url': url('postgres'),
        database: 'all',
        'exclude-database': 'postgres',
        destination: 's3://bench/all',
        ...extra,
      });
      const m = /backups-json<<(\S+)\n([\s\S]*?)\n\1/.exec(outputs);
      const list = m ? JSON.parse(m[2]) : [];
      const stored = list.filter((e) => e.status === 'ok');
      if (stored.length !== count)
        throw new Error(
          `database: all stored ${stored.length} of ${count} databases: ${m ? m[2].slice(0, 2000) : outputs}`,
        );
      clearBucket();
      return { ...r, archiveBytes: stored.reduce((sum, e) => sum + (e.bytes ?? 0), 0) };
    };

    const dumps = (pipe) => `for db in ${names.join(' ')}; do "${bin}/pg_dump" -Fc -Z0 -d "$db" ${pipe}; done`;
    const stages = [
      {
        name: `sum of ${count} × pg_dump -Fc -Z0 > /dev/null`,
        fn: () => measured(['sh', '-c', dumps('> /dev/null')], pgEnv).then((r) => ({ ...r, noNode: true })),
      },
      {
        name: `sum of ${count} × pg_dump -Fc -Z0 | zstd -3 > /dev/null`,
        fn: () =>
          measured(['sh', '-c', dumps('| zstd -q -3 -T0 > /dev/null')], pgEnv).then((r) => ({ ...r, noNode: true })),
      },
      {
        name: `${count} runs of the action, one database each (a matrix by hand, one after the other) → S3`,
        fn: async () => {
          const total = { seconds: 0, cpuSeconds: 0, serverCpu: 0, peakMainMb: 0, peakChildrenMb: 0 };
          for (const db of names) {
            const { r } = await action({ 'database-url': url(db), destination: 's3://bench/one' });
            for (const k of ['seconds', 'cpuSeconds', 'serverCpu']) total[k] += r[k];
            total.peakMainMb = Math.max(total.peakMainMb, r.peakMainMb);
            total.peakChildrenMb = Math.max(total.peakChildrenMb, r.peakChildrenMb);
          }
          clearBucket();
          return total;
        },
      },
      { name: 'action, `database: all`, sequential → S3', fn: () => allDatabases({}) },
      {
        name: 'action, `database: all`, `parallel-databases: 2` → S3',
        fn: () => allDatabases({ 'parallel-databases': '2' }),
      },
    ];
    for (const s of stages) s.runs = [];
    psql('CHECKPOINT');
    await measured(['sh', '-c', dumps('> /dev/null')], pgEnv); // warm-up, unmeasured
    for (let i = 0; i < reps; i++) {
      for (const s of stages) {
        psql('CHECKPOINT');
        const r = await s.fn();
        s.runs.push(r);
        log(
          `${s.name} #${i + 1}: ${r.seconds.toFixed(2)} s, CPU ${r.cpuSeconds.toFixed(2)} s, node ${r.peakMainMb.toFixed(0)} MB, children ${r.peakChildrenMb.toFixed(0)} MB`,
        );
      }
    }

    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const rows = stages.map((s) => {
      const secs = s.runs.map((r) => r.seconds).sort((a, b) => a - b);
      return {
        name: s.name,
        median: median(secs),
        min: secs[0],
        max: secs.at(-1),
        cpu: median(s.runs.map((r) => r.cpuSeconds)),
        serverCpu: median(s.runs.map((r) => r.serverCpu)),
        peakMainMb: s.runs[0].noNode ? undefined : Math.max(...s.runs.map((r) => r.peakMainMb)),
        peakChildrenMb: Math.max(...s.runs.map((r) => r.peakChildrenMb)),
        archiveMb: s.runs.at(-1).archiveBytes ? s.runs.at(-1).archiveBytes / 1e6 : undefined,
      };
    });
    const [plain, zstd, matrix, sequential, parallel] = rows;
    const cell = (name) => name.replace(/\|/g, '\\|');
    const table = rows.map(
      (r) =>
        `| ${cell(r.name)} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)}–${r.max.toFixed(2)} | ${(r.median / zstd.median).toFixed(2)}× | ${r.cpu.toFixed(1)} | ${r.serverCpu.toFixed(1)} | ${r.archiveMb === undefined ? '—' : r.archiveMb.toFixed(1)} | ${r.peakMainMb === undefined ? '—' : r.peakMainMb.toFixed(0)} | ${r.peakChildrenMb.toFixed(0)} |`,
    );
    const perDb = (r) => (((r.median - zstd.median) / count) * 1000).toFixed(0);
    const md = `${HEADING}

Produced by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}; the action on Node ${nodeVersion},
PostgreSQL ${psql('SHOW server_version')}, s3rver in its own Node process on 127.0.0.1. ${count} databases, each the project's
sample shop at \`scripts/sample-db\` scale ${scale} (${(eachBytes / 1e6).toFixed(1)} MB each by \`pg_database_size\`, ${(totalBytes / 1e6).toFixed(0)} MB in all).
Every stage ran ${reps} times, in rounds, a CHECKPOINT before each run; the pg_dump rows run the ${count}
dumps one after the other in one shell. "vs dumps" is the median over that of the ${count} \`pg_dump | zstd\`. The
matrix row adds the ${count} runs' wall and CPU times and gives the largest peak of any one run. Peak RSS
"children" sums the child processes alive at one time (pg_dump, zstd; two of each with \`parallel-databases: 2\`).

| Stage | Median s | Min–max s | vs dumps | CPU s | PostgreSQL CPU s | Archives MB | Peak RSS node MB | Peak RSS children MB |
|---|---|---|---|---|---|---|---|---|
${table.join('\n')}

Per database above the sum of the dumps: ${perDb(sequential)} ms sequential, ${perDb(parallel)} ms with
\`parallel-databases: 2\`, ${perDb(matrix)} ms for one run per database. \`database: all\` sequential is
${(sequential.median / zstd.median).toFixed(2)}× the sum of the ${count} \`pg_dump | zstd\` (${(sequential.median / plain.median).toFixed(2)}× the sum of the uncompressed dumps) and
${(sequential.median / matrix.median).toFixed(2)}× ${count} separate runs; \`parallel-databases: 2\` is ${(parallel.median / sequential.median).toFixed(2)}× sequential.
`;
    const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
    const at = previous.indexOf(`\n${HEADING}\n`);
    const next = at >= 0 ? previous.indexOf('\n## ', at + 1) : -1;
    const before = at >= 0 ? previous.slice(0, at + 1) : `${previous.replace(/\n*$/, '')}\n\n`;
    const after = next >= 0 ? previous.slice(next + 1) : '';
    writeFileSync(out, `${before}${md}${after ? `\n${after}` : ''}`);
    log(`wrote ${path.relative(root, out)}`);
    console.log(md);
  } finally {
    if (pgStarted) {
      try {
        run(asPg(`${bin}/pg_ctl`, ['-D', dataDir, '-m', 'immediate', 'stop']));
      } catch {
        // already stopped
      }
    }
    s3?.kill();
    rmSync(work, { recursive: true, force: true });
  }
}
