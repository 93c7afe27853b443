/**
 * The `postgres-backup` command as a person runs it: dist/cli.js as a process, with a clean
 * environment, against a real PostgreSQL 15 cluster holding the sample shop database
 * (scripts/sample-db) and a real S3 server (s3rver). Backup → list → restore → drill; `--json`
 * equals the action's outputs (dist/index.js) on the same store; bad usage exits 2 before any
 * connection with the action's own text, naming flags; keys from files and a passphrase from
 * stdin; on a pseudo-terminal, the question before a restore over tables and the key's passphrase
 * prompt; no secret in any output; the `npm pack` tarball installed into an empty folder runs.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runAction } from '../support/action-runner.js';
import { loadSampleDb, repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';
import { startS3Server, type S3Server } from '../support/s3-server.js';
import { scanForSecrets } from '../support/secret-scan.js';

const execFileAsync = promisify(execFile);
const T = 240_000;
const CLI = path.join(repoRoot(), 'dist', 'cli.js');
/** The database password: a grep-able sentinel with characters that encode differently. */
const SENTINEL = 'SENTINEL-cli-9b2f41 p@ss:/w%rd';
const KEY_PASSPHRASE = 'SENTINEL-keypass-4e8a1c';

let cluster: Cluster;
let s3: S3Server;
let work: string;
/** Every stdout and stderr of every CLI run, for the secret scan. */
const printed: string[] = [];

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <bin> …args` with only PATH and HOME from this process, plus `env`; `stdin` is written and closed. */
function cli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; bin?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: work, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      printed.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** The source as a shell user names it: PG* variables, the password on stdin (--password-stdin). */
const PG_ENV = (): Record<string, string> => ({
  PGHOST: '127.0.0.1',
  PGPORT: String(cluster.port),
  PGUSER: 'postgres',
  PGDATABASE: 'shop',
});
/** S3 as a shell user names it: the SDK's AWS_* variables. */
const AWS_ENV = (): Record<string, string> => ({
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL_S3: s3.endpoint,
});
const S3_FLAGS = ['--s3-force-path-style', 'true'];

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'cli-bundle-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await s3.createBucket('cli');
  await cluster.setPassword('postgres', SENTINEL);
  await loadSampleDb(cluster, 'shop');
}, T);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

afterAll(() => {
  // Every channel of every run: stdout and stderr.
  expect(printed.flatMap((text, i) => scanForSecrets(`run output ${i}`, text, [SENTINEL, KEY_PASSPHRASE]))).toEqual([]);
});

/** Rows of a few tables, for comparing a restore with its source. */
async function counts(db: string): Promise<string> {
  return cluster.psql(
    db,
    `SELECT string_agg(c.relname || '=' || (xpath('/row/n/text()', query_to_xml('SELECT count(*) AS n FROM shop.' || quote_ident(c.relname), false, true, '')))[1]::text, ',' ORDER BY c.relname)
       FROM pg_class c WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind = 'r'`,
  );
}

describe('backup → list → restore → drill through dist/cli.js', () => {
  const destination = 's3://cli/laptop';
  let backupKey: string;
  /** The shop's backups on the store, restored into `db` on the test cluster. */
  const shopInto = (db: string): string[] => [
    '--database',
    'shop',
    '--destination',
    destination,
    ...S3_FLAGS,
    '--target-database-url',
    cluster.url(db, 'postgres', SENTINEL),
  ];

  test(
    'backup: PG* and --password-stdin name the source, AWS_* the store; --json holds the action outputs of a backup',
    async () => {
      const run = await cli(
        ['backup', '--destination', destination, ...S3_FLAGS, '--label', 'nightly', '--password-stdin', '--json'],
        {
          env: { ...PG_ENV(), ...AWS_ENV() },
          stdin: `${SENTINEL}\n`,
        },
      );
      expect([run.code, run.stderr]).toEqual([0, expect.stringContaining('==> Dump and upload')]);
      // Output for a person: no workflow commands anywhere.
      expect(run.stdout + run.stderr).not.toMatch(/^::/m);
      const json = JSON.parse(run.stdout) as Record<string, string>;
      backupKey = json['backup-key'] ?? '';
      expect(backupKey).toMatch(/^laptop\/shop\/\d{4}-\d{2}-\d{2}T\d{6}Z-nightly\.dump\.zst$/);
      // The action's outputs of a backup of the same database into the same store: the same names.
      const action = await runAction({
        inputs: {
          'database-url': cluster.url('shop', 'postgres', SENTINEL),
          destination: 's3://cli/action',
          's3-endpoint': s3.endpoint,
          's3-access-key-id': 'S3RVER',
          's3-secret-access-key': 'S3RVER',
        },
      });
      expect(action.exitCode).toBe(0);
      printed.push(action.stdout, action.stderr);
      expect(Object.keys(json).sort()).toEqual(Object.keys(action.outputs).sort());
      expect(json['server-version']).toBe(action.outputs['server-version']);
      expect(json['manifest-key']).toBe(`${backupKey}.manifest.json`);
    },
    T,
  );

  test(
    'list: an aligned table for a person; --json deep-equals the action outputs of list on the same store',
    async () => {
      const args = ['--database', 'shop', '--destination', destination, ...S3_FLAGS, '--keep-last', '1'];
      const human = await cli(['list', ...args], { env: AWS_ENV() });
      expect(human.code).toBe(0);
      const rows = human.stdout.trimEnd().split('\n');
      expect(rows[0]).toMatch(/^TIME \(UTC\)\s+LABEL\s+SIZE\s+COMPLETE\s+RETENTION\s+DESTINATION\s+KEY$/);
      expect(rows.slice(1)).toEqual([expect.stringMatching(new RegExp(`nightly .* yes .*keep .*${backupKey}$`))]);

      const json = await cli(['list', ...args, '--json'], { env: AWS_ENV() });
      const action = await runAction({
        inputs: {
          command: 'list',
          database: 'shop',
          destination,
          'keep-last': '1',
          's3-endpoint': s3.endpoint,
          's3-access-key-id': 'S3RVER',
          's3-secret-access-key': 'S3RVER',
        },
      });
      const parsed = JSON.parse(json.stdout) as Record<string, unknown>;
      expect(parsed).toEqual({
        backups: JSON.parse(action.outputs['backups'] ?? '') as unknown,
        'temporary-files': JSON.parse(action.outputs['temporary-files'] ?? '') as unknown,
      });
    },
    T,
  );

  test(
    'restore into a new database; into one that has tables: refused without --yes (exit 2, naming --confirm), done with --yes',
    async () => {
      const first = await cli(['restore', ...shopInto('restored'), '--create-database'], { env: AWS_ENV() });
      expect([first.code, first.stdout]).toEqual([
        0,
        expect.stringMatching(new RegExp(`^restored-key\\s+${backupKey}$`, 'm')),
      ]);
      expect(await counts('restored')).toBe(await counts('shop'));

      // A database that already holds a table of its own (not the archive's).
      await cluster.createDatabase('occupied');
      await cluster.psql('occupied', 'CREATE TABLE public.notes (id int); INSERT INTO public.notes VALUES (1)');
      const refused = await cli(['restore', ...shopInto('occupied')], { env: AWS_ENV() });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /error: --confirm: the target database 'occupied' .* set --confirm occupied \(with --clean/,
      );
      expect(await cluster.psql('occupied', "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'")).toBe('0');

      const confirmed = await cli(['restore', ...shopInto('occupied'), '--yes'], { env: AWS_ENV() });
      expect(confirmed.code).toBe(0);
      expect(await counts('occupied')).toBe(await counts('shop'));
      expect(await cluster.psql('occupied', 'SELECT count(*) FROM public.notes')).toBe('1');
    },
    T,
  );

  test(
    'drill: the latest backup restores into a scratch database and passes',
    async () => {
      const run = await cli(['drill', ...shopInto('drill')], { env: AWS_ENV() });
      expect([run.code, run.stdout]).toEqual([0, expect.stringMatching(/^drill-passed\s+true$/m)]);
      expect(run.stderr).toMatch(/Drill passed: \d+ checks/);
    },
    T,
  );
});

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), answering each question with `answers`
 * when its text appears: a person at a terminal.
 */
function onTerminal(args: string[], answers: [RegExp, string][], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', HOME: work, TERM: 'xterm', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    const pending = [...answers];
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const next = pending[0];
      if (next && next[0].test(stdout)) {
        pending.shift();
        child.stdin.write(next[1]);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      printed.push(stdout);
      child.stdin.destroy();
      resolve({ code, stdout, stderr: '' });
    });
  });
}

describe('bad usage', () => {
  let server: net.Server;
  let connections = 0;
  let port = 0;

  beforeAll(async () => {
    server = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test.each([
    [
      ['bakup', '--database-url', 'URL'],
      /unknown command 'bakup'\n\(Did you mean backup\?\)\nusage: postgres-backup <command>/,
    ],
    [
      ['backup', '--databse-url', 'URL'],
      /unknown option '--databse-url'\n\(Did you mean --database-url\?\)\nusage: postgres-backup backup /,
    ],
    [
      ['backup', '--destination', 'file:///tmp/x', '--database-url'],
      /option '--database-url <value>' argument missing\nusage: postgres-backup backup /,
    ],
    [['restore', '--database-url', 'URL', '--keep-daily', '7'], /unknown option '--keep-daily'/],
  ])(
    '%j exits 2 with the closest name and the usage line, before any connection',
    async (args, message) => {
      const run = await cli(args.map((a) => (a === 'URL' ? `postgres://u:${SENTINEL}@127.0.0.1:${port}/db` : a)));
      expect([run.code, run.stdout]).toEqual([2, '']);
      expect(run.stderr).toMatch(message);
      expect(connections).toBe(0);
    },
    T,
  );

  test(
    'what the action rejects, the CLI rejects with the same text, naming the flag (or the variable) instead of the input',
    async () => {
      const inputs = {
        host: '127.0.0.1',
        port: '54x',
        username: 'postgres',
        database: 'shop',
        destination: `file://${work}/never`,
      };
      const action = await runAction({ inputs });
      const problem = /::error::Input 'port': (.*)/.exec(action.stdout)?.[1];
      expect(problem).toMatch(/54x/);

      const flag = await cli([
        'backup',
        '--host',
        '127.0.0.1',
        '--port',
        '54x',
        '--username',
        'postgres',
        '--database',
        'shop',
        '--destination',
        inputs.destination,
      ]);
      expect(flag.code).toBe(2);
      expect(flag.stderr).toContain(`error: --port: ${problem}`);

      const variable = await cli(['backup', '--destination', inputs.destination], {
        env: { PGHOST: '127.0.0.1', PGPORT: '54x', PGUSER: 'postgres', PGDATABASE: 'shop' },
      });
      expect(variable.code).toBe(2);
      expect(variable.stderr).toContain(`error: PGPORT (--port): ${problem}`);
      expect(existsSync(`${work}/never`)).toBe(false);
      expect(connections).toBe(0);
    },
    T,
  );
});

/** A restore of the encrypted backup (folder `encrypted`) into a new database `db`, the private key from its file. */
function encryptedRestore(db: string): string[] {
  return [
    'restore',
    '--database',
    'shop',
    '--destination',
    `file://${path.join(work, 'encrypted')}`,
    '--decryption-private-key-file',
    path.join(work, 'private.asc'),
    '--target-database-url',
    cluster.url(db, 'postgres', SENTINEL),
    '--create-database',
  ];
}

test(
  'an encrypted backup with the public key from a file restores with the private key from a file and its passphrase on stdin',
  async () => {
    const { generateKey } = await import('openpgp');
    const key = await generateKey({
      userIDs: [{ name: 'Laptop restore', email: 'restore@example.com' }],
      passphrase: KEY_PASSPHRASE,
      format: 'armored',
    });
    writeFileSync(path.join(work, 'public.asc'), key.publicKey);
    writeFileSync(path.join(work, 'private.asc'), key.privateKey, { mode: 0o600 });
    const folder = path.join(work, 'encrypted');
    const backup = await cli(
      ['backup', '--destination', `file://${folder}`, '--encryption-public-key-file', path.join(work, 'public.asc')],
      {
        env: { DATABASE_URL: cluster.url('shop', 'postgres', SENTINEL) },
      },
    );
    expect(backup.code).toBe(0);
    expect(readdirSync(path.join(folder, 'shop')).filter((f) => f.endsWith('.gpg'))).toHaveLength(1);

    const restore = await cli([...encryptedRestore('decrypted'), '--decryption-private-key-passphrase-stdin'], {
      stdin: `${KEY_PASSPHRASE}\n`,
    });
    expect([restore.code, restore.stderr]).toEqual([0, expect.stringContaining('matches the manifest')]);
    expect(await counts('decrypted')).toBe(await counts('shop'));
  },
  T,
);

describe('on a terminal', () => {
  const source = ['--database', 'shop', '--destination', 's3://cli/laptop', ...S3_FLAGS];

  test(
    'a restore over tables asks first: no leaves it untouched (exit 2), yes restores; colour only here',
    async () => {
      await cluster.createDatabase('asked');
      await cluster.psql('asked', 'CREATE TABLE public.notes (id int)');
      const target = ['--target-database-url', cluster.url('asked', 'postgres', SENTINEL)];
      const no = await onTerminal(['restore', ...source, ...target], [[/Restore into it\?/, 'n\r']], AWS_ENV());
      expect(no.code).toBe(2);
      expect(no.stdout).toMatch(/The database 'asked' on 127\.0\.0\.1:\d+ has 1 user table\(s\)\. Restore into it\?/);
      expect(no.stdout).toContain('\x1b[');
      expect(await cluster.psql('asked', "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'")).toBe('0');

      const yes = await onTerminal(['restore', ...source, ...target], [[/Restore into it\?/, 'y\r']], AWS_ENV());
      expect(yes.code).toBe(0);
      expect(await counts('asked')).toBe(await counts('shop'));
    },
    T,
  );

  test(
    "a protected private key's passphrase is asked, hidden, and never echoed",
    async () => {
      const run = await onTerminal(encryptedRestore('prompted'), [
        [/Passphrase of the private key [0-9a-f]{16}:/, `${KEY_PASSPHRASE}\r`],
      ]);
      expect(run.code).toBe(0);
      expect(await counts('prompted')).toBe(await counts('shop'));
    },
    T,
  );
});

test(
  'the npm pack tarball, installed into an empty folder, runs postgres-backup --help and a backup',
  async () => {
    const packed = path.join(work, 'packed');
    const empty = path.join(work, 'empty');
    for (const dir of [packed, empty]) mkdirSync(dir);
    await execFileAsync('npm', ['pack', '--silent', '--pack-destination', packed], { cwd: repoRoot() });
    const [tarball] = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    await execFileAsync('npm', ['install', '--no-audit', '--no-fund', path.join(packed, tarball ?? '')], {
      cwd: empty,
    });
    const bin = path.join(empty, 'node_modules', '.bin', 'postgres-backup');

    const help = await execFileAsync(bin, ['--help'], {
      cwd: empty,
      env: { PATH: process.env.PATH ?? '', HOME: work },
    });
    expect(help.stdout).toMatch(/Usage: postgres-backup <command>/);
    const backup = await cli(['backup', '--destination', `file://${empty}/backups`, '--json'], {
      bin,
      env: { DATABASE_URL: cluster.url('shop', 'postgres', SENTINEL) },
    });
    expect(backup.code).toBe(0);
    const key = (JSON.parse(backup.stdout) as Record<string, string>)['backup-key'] ?? '';
    expect(existsSync(path.join(empty, 'backups', key))).toBe(true);
    expect(existsSync(path.join(empty, 'backups', `${key}.manifest.json`))).toBe(true);
  },
  T,
);
