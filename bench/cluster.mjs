// The benches' throwaway PostgreSQL server and the process helpers they share: run a program
// (never through a shell), as the postgres user when the bench runs as root, and a timed log line.
import { chownSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const asRoot = process.getuid?.() === 0;

/** `[cmd, ...args]`, run as the postgres user when this process is root (initdb refuses root). */
export const asPg = (cmd, cmdArgs) =>
  asRoot ? ['runuser', '-u', 'postgres', '--', cmd, ...cmdArgs] : [cmd, ...cmdArgs];

/** Runs `argv` (no shell) and returns its stdout as text; stderr goes to the bench's. */
export const run = (argv, options = {}) =>
  execFileSync(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
    ...options,
  })?.toString() ?? '';

/** A progress line on stderr, stamped with the UTC time. */
export const log = (...m) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...m);

/**
 * initdb + pg_ctl start of a server under `work` (data in `work/data`, socket in `work`, log in
 * `work/pg.log`) on a random port of 127.0.0.1, durability off (a bench's data is thrown away).
 * @param settings extra `-c name=value` server settings.
 * @returns the port.
 */
export function startBenchServer(bin, work, settings = []) {
  if (asRoot)
    chownSync(work, Number(run(['id', '-u', 'postgres']).trim()), Number(run(['id', '-g', 'postgres']).trim()));
  const port = 50000 + Math.floor(Math.random() * 10000);
  const dataDir = path.join(work, 'data');
  run(asPg(`${bin}/initdb`, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync']));
  const options = [
    `-p ${port} -k ${work} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    ...settings.map((s) => `-c ${s}`),
  ].join(' ');
  run(asPg(`${bin}/pg_ctl`, ['-D', dataDir, '-w', '-l', path.join(work, 'pg.log'), '-o', options, 'start']));
  return port;
}

/**
 * Loads the project's sample shop (scripts/sample-db/load.mjs) at `scale` into the existing
 * database `db` of the bench's server (socket folder `work`, `port`), with the psql of `bin`.
 */
export function loadSampleInto({ root, bin, work, port }, db, scale) {
  run(
    [
      process.execPath,
      path.join(root, 'scripts', 'sample-db', 'load.mjs'),
      '--scale',
      String(scale),
      '--url',
      `host=${work} port=${port} user=postgres dbname=${db}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PSQL: `${bin}/psql` } },
  );
}

/**
 * INPUT_* variables of action.yml's input defaults (under `root`), as the runner applies them; an
 * expression default (`${{ github.token }}`) is the runner's to evaluate: empty here.
 */
export function actionDefaults(root) {
  const env = {};
  let current;
  for (const line of readFileSync(path.join(root, 'action.yml'), 'utf8').split('\n')) {
    const name = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (name) current = name[1];
    const def = /^ {4}default:\s*(.*)$/.exec(line);
    if (current && def)
      env[`INPUT_${current.toUpperCase()}`] = def[1].includes('${{') ? '' : def[1].replace(/^'(.*)'$/, '$1');
    if (/^outputs:/.test(line)) break;
  }
  return env;
}
