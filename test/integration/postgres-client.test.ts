import { dumpOptionsFixture } from '../support/dump-options.js';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ClientInstallError } from '../../src/errors.js';
import { classifyPgError } from '../../src/postgres/classify.js';
import {
  ensureClient,
  execRunner,
  findClients,
  parseOsRelease,
  type ClientCache,
  type CommandRunner,
} from '../../src/postgres/client.js';
import { buildPgDumpArgs } from '../../src/postgres/dump-args.js';
import { libpqEnv } from '../../src/postgres/libpq.js';
import type { Connection } from '../../src/postgres/types.js';
import { freePort, loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';

const execFileAsync = promisify(execFile);
const T = 60_000;
const PG15 = '/usr/lib/postgresql/15/bin';

let tmp: string;
let cluster: Cluster;
const originalRunnerTemp = process.env.RUNNER_TEMP;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-client-test-'));
  // The apt path keeps downloaded packages in $RUNNER_TEMP/pg-client-debs: keep that inside tmp.
  process.env.RUNNER_TEMP = tmp;
  cluster = await startCluster();
  await loadSampleDb(cluster, 'shop');
}, T);

afterAll(async () => {
  if (originalRunnerTemp === undefined) delete process.env.RUNNER_TEMP;
  else process.env.RUNNER_TEMP = originalRunnerTemp;
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
}, T);

interface Call {
  cmd: string;
  args: string[];
}

/** The real runner, recording every command; `intercept` may answer a command instead. */
function recordingRunner(intercept?: (call: Call) => { exitCode: number; stdout: string; stderr: string } | undefined) {
  const real = execRunner({ silent: true });
  const calls: Call[] = [];
  const runner: CommandRunner = {
    async run(cmd, args, opts) {
      const call = { cmd, args };
      calls.push(call);
      return intercept?.(call) ?? real.run(cmd, args, opts);
    },
  };
  return { runner, calls };
}

function recordingLog() {
  const lines: string[] = [];
  return {
    lines,
    log: { info: (m: string) => lines.push(`info: ${m}`), warning: (m: string) => lines.push(`warning: ${m}`) },
  };
}

function memoryCache() {
  const restored: string[] = [];
  const saved: string[] = [];
  const cache: ClientCache = {
    restore(key) {
      restored.push(key);
      return Promise.resolve(false);
    },
    save(key) {
      saved.push(key);
      return Promise.resolve();
    },
  };
  return { cache, restored, saved };
}

test(
  "findClients finds Debian's pg_dump 15 by full path and skips the /usr/bin wrapper",
  async () => {
    const tools = await findClients();
    const { stdout } = await execFileAsync(`${PG15}/pg_dump`, ['--version']);
    const version = /\) (\d+\.\d+)/.exec(stdout)![1];
    expect(tools).toContainEqual({ path: `${PG15}/pg_dump`, major: 15, version });
    expect(tools.map((t) => t.path)).not.toContain('/usr/bin/pg_dump');
    expect(new Set(tools.map((t) => t.path)).size).toBe(tools.length);
  },
  T,
);

test(
  'findClients expands *, dedupes by real path, reads PATH only when asked',
  async () => {
    const root = path.join(tmp, 'fake');
    for (const major of ['17', '16']) {
      const bin = path.join(root, major, 'bin');
      mkdirSync(bin, { recursive: true });
      writeFileSync(path.join(bin, 'pg_dump'), `#!/bin/sh\necho "pg_dump (PostgreSQL) ${major}.2 (fake)"\n`);
      chmodSync(path.join(bin, 'pg_dump'), 0o755);
    }
    symlinkSync(path.join(root, '17', 'bin'), path.join(tmp, 'link17'));
    const tools = await findClients({
      searchDirs: [path.join(root, '*', 'bin'), path.join(tmp, 'link17'), path.join(tmp, 'missing')],
    });
    expect(tools).toEqual([
      { path: path.join(root, '17', 'bin', 'pg_dump'), major: 17, version: '17.2' },
      { path: path.join(root, '16', 'bin', 'pg_dump'), major: 16, version: '16.2' },
    ]);
    expect(await findClients({ searchDirs: [] })).toEqual([]);
    expect(
      await findClients({ searchDirs: [], pathEnv: `${path.join(root, '16', 'bin')}${path.delimiter}/nonexistent` }),
    ).toEqual([{ path: path.join(root, '16', 'bin', 'pg_dump'), major: 16, version: '16.2' }]);
  },
  T,
);

test(
  'ensureClient uses the installed pg_dump 15 for a 15 server without running anything',
  async () => {
    const { runner, calls } = recordingRunner();
    const { log, lines } = recordingLog();
    const result = await ensureClient({ serverMajor: 15, install: true, runner, log });
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
    expect(result).toEqual({ pgDump: expect.objectContaining({ path: `${PG15}/pg_dump`, major: 15 }), binDir: PG15 });
    expect(calls).toEqual([]);
    expect(lines).toEqual([]);
  },
  T,
);

test(
  'ensureClient runs the real apt path when no client is found (idempotent install of postgresql-client-15)',
  async () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    const { runner, calls } = recordingRunner();
    const { log, lines } = recordingLog();
    const { cache, restored, saved } = memoryCache();
    const release = parseOsRelease(
      await import('node:fs/promises').then((fs) => fs.readFile('/etc/os-release', 'utf8')),
    );
    const result = await ensureClient({ serverMajor: 15, install: true, runner, log, cache, searchDirs: [empty] });

    expect(result.installedBy).toBe('apt');
    expect(result.pgDump).toMatchObject({ path: `${PG15}/pg_dump`, major: 15 });
    expect(result.binDir).toBe(PG15);
    const commands = calls.map((c) => [c.cmd, ...c.args].join(' '));
    expect(commands).toHaveLength(1);
    expect(commands[0]).toBe(
      `apt-get install -y --no-install-recommends -o Dir::Cache::Archives=${path.join(tmp, 'pg-client-debs')} -o APT::Keep-Downloaded-Packages=true postgresql-client-15`,
    );
    expect(commands.join('\n')).not.toContain('apt.postgresql.org');
    const key = `pg-client-${release.id}-${release.versionId}-${process.arch}-15-v1`;
    expect(restored).toEqual([key]);
    // Saved under the same key only when apt downloaded something (a newer 15.x than the installed one).
    expect(saved.filter((k) => k !== key)).toEqual([]);
    expect(lines.some((l) => l.includes('installing it with apt'))).toBe(true);
  },
  T,
);

test(
  'a 17 server on Debian: apt has no postgresql-client-17 → ClientInstallError naming 17, the clients found and the fix',
  async () => {
    // apt-get update would also contact this machine's non-Debian apt sources: answer it here. Both
    // `apt-get install` runs are real (and fail locally: "Unable to locate package").
    const { runner, calls } = recordingRunner((call) =>
      call.cmd === 'apt-get' && call.args[0] === 'update'
        ? { exitCode: 0, stdout: '(apt-get update skipped by the test)', stderr: '' }
        : undefined,
    );
    const { log } = recordingLog();
    const error = await ensureClient({ serverMajor: 17, install: true, runner, log }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ClientInstallError);
    const message = (error as ClientInstallError).message;
    expect((error as ClientInstallError).phase).toBe('client');
    expect(message).toContain('No pg_dump 17 is available for the PostgreSQL 17 server.');
    expect(message).toMatch(/Clients found: [^.]*\/usr\/lib\/postgresql\/15\/bin\/pg_dump \(15\.\d+\)/);
    expect(message).toContain('"E: Unable to locate package postgresql-client-17"');
    expect(message).toContain('add the PGDG repository');
    expect(message).toContain('ubuntu-* runner');

    const commands = calls.map((c) => [c.cmd, ...c.args].join(' '));
    expect(commands.filter((c) => c.startsWith('apt-get install'))).toHaveLength(2);
    expect(commands.filter((c) => c === 'apt-get update')).toHaveLength(1);
    expect(commands.join('\n')).not.toContain('apt.postgresql.org'); // addPgdg is false on Debian
    expect(commands.some((c) => c.startsWith('sudo'))).toBe(false); // root here
  },
  T,
);

describe('the .deb cache (dpkg/apt answered by the test; the files and the search are real)', () => {
  let savedRunnerTemp: string | undefined;
  let runnerTemp: string;
  beforeEach(() => {
    savedRunnerTemp = process.env.RUNNER_TEMP;
    runnerTemp = mkdtempSync(path.join(tmp, 'runner-temp-'));
    process.env.RUNNER_TEMP = runnerTemp;
  });
  afterEach(() => {
    if (savedRunnerTemp === undefined) delete process.env.RUNNER_TEMP;
    else process.env.RUNNER_TEMP = savedRunnerTemp;
  });

  function restoringCache(files: string[]) {
    const saved: Array<[string, string[]]> = [];
    const cache: ClientCache = {
      restore(_key, paths) {
        mkdirSync(paths[0]!, { recursive: true });
        for (const f of files) writeFileSync(path.join(paths[0]!, f), 'deb');
        return Promise.resolve(files.length > 0);
      },
      save(key, paths) {
        saved.push([key, paths]);
        return Promise.resolve();
      },
    };
    return { cache, saved };
  }

  test(
    'a cache hit installs the cached packages with dpkg and skips apt',
    async () => {
      const { runner, calls } = recordingRunner((call) =>
        call.cmd === 'dpkg'
          ? { exitCode: 0, stdout: '', stderr: '' }
          : { exitCode: 1, stdout: '', stderr: 'unexpected' },
      );
      const { cache, saved } = restoringCache(['postgresql-client-15_15.18_amd64.deb', 'libpq5_15.18_amd64.deb']);
      const { log } = recordingLog();
      const result = await ensureClient({
        serverMajor: 15,
        install: true,
        runner,
        log,
        cache,
        osId: 'debian',
        searchDirs: [path.join(tmp, 'empty')],
      });
      expect(result.installedBy).toBe('cache');
      expect(result.pgDump.path).toBe(`${PG15}/pg_dump`);
      const debDir = path.join(runnerTemp, 'pg-client-debs');
      expect(calls).toHaveLength(1);
      expect(calls[0]!.cmd).toBe('dpkg');
      expect(calls[0]!.args.slice(0, 2)).toEqual(['--refuse-downgrade', '-i']);
      expect([...calls[0]!.args.slice(2)].sort()).toEqual([
        path.join(debDir, 'libpq5_15.18_amd64.deb'),
        path.join(debDir, 'postgresql-client-15_15.18_amd64.deb'),
      ]);
      expect(saved).toEqual([]);
    },
    T,
  );

  test(
    'a failed dpkg falls back to apt; downloaded packages are saved under the key',
    async () => {
      const { runner, calls } = recordingRunner((call) => {
        if (call.cmd === 'dpkg')
          return {
            exitCode: 2,
            stdout: '',
            stderr: 'dpkg: error processing archive x.deb (--install):\n dpkg-deb: error: not a Debian format archive',
          };
        if (call.cmd === 'apt-get' && call.args[0] === 'install') {
          // Pretend apt downloaded a package into Dir::Cache::Archives.
          const dir = call.args[call.args.indexOf('-o') + 1]!.replace('Dir::Cache::Archives=', '');
          writeFileSync(path.join(dir, 'postgresql-client-15_15.18_amd64.deb'), 'new');
          return { exitCode: 0, stdout: 'Setting up postgresql-client-15', stderr: '' };
        }
        return { exitCode: 1, stdout: '', stderr: 'unexpected' };
      });
      const { cache, saved } = restoringCache(['broken.deb']);
      const { log, lines } = recordingLog();
      const result = await ensureClient({
        serverMajor: 15,
        install: true,
        runner,
        log,
        cache,
        osId: 'debian',
        searchDirs: [path.join(tmp, 'empty')],
      });
      expect(result.installedBy).toBe('apt');
      expect(calls.map((c) => c.cmd)).toEqual(['dpkg', 'apt-get']);
      expect(
        lines.some((l) =>
          l.startsWith(
            'warning: Installing the cached postgresql-client-15 packages failed (dpkg-deb: error: not a Debian format archive)',
          ),
        ),
      ).toBe(true);
      expect(saved).toHaveLength(1);
      expect(saved[0]![0]).toMatch(new RegExp(`^pg-client-debian-[^-]+-${process.arch}-15-v1$`));
      expect(saved[0]![1]).toEqual([path.join(runnerTemp, 'pg-client-debs')]);
    },
    T,
  );
});

test(
  'brew path (macOS, brew answered by the test): looks in `brew --prefix postgresql@N`/bin',
  async () => {
    const prefix = path.join(tmp, 'homebrew', 'opt', 'postgresql@17');
    mkdirSync(path.join(prefix, 'bin'), { recursive: true });
    const { runner, calls } = recordingRunner((call) => {
      if (call.cmd !== 'brew') return { exitCode: 1, stdout: '', stderr: 'unexpected' };
      if (call.args[0] === 'install') {
        writeFileSync(path.join(prefix, 'bin', 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 17.6 (Homebrew)"\n');
        chmodSync(path.join(prefix, 'bin', 'pg_dump'), 0o755);
        return { exitCode: 0, stdout: '==> Pouring postgresql@17', stderr: '' };
      }
      return { exitCode: 0, stdout: `${prefix}\n`, stderr: '' };
    });
    const { log, lines } = recordingLog();
    const result = await ensureClient({
      serverMajor: 17,
      install: true,
      runner,
      log,
      platform: 'darwin',
      searchDirs: [path.join(tmp, 'empty')],
    });
    expect(result).toEqual({
      pgDump: { path: path.join(prefix, 'bin', 'pg_dump'), major: 17, version: '17.6' },
      binDir: path.join(prefix, 'bin'),
      installedBy: 'brew',
    });
    expect(calls.map((c) => [c.cmd, ...c.args].join(' '))).toEqual([
      'brew install postgresql@17',
      'brew --prefix postgresql@17',
    ]);
    // The fake prefix has no pg_dumpall/pg_restore/psql: that is reported.
    expect(lines.some((l) => l.startsWith('warning:') && l.includes('not pg_dumpall, pg_restore, psql'))).toBe(true);
  },
  T,
);

test(
  'install disabled and no client: fails without running anything',
  async () => {
    const { runner, calls } = recordingRunner();
    const { log } = recordingLog();
    await expect(
      ensureClient({ serverMajor: 16, install: false, runner, log, searchDirs: [path.join(tmp, 'empty')] }),
    ).rejects.toThrow(/No pg_dump 16 is available for the PostgreSQL 16 server\. Clients found: none\./);
    expect(calls).toEqual([]);
  },
  T,
);

describe('real pg_dump 15 failures are classified', () => {
  function dumpEnv(conn: Connection): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
    return { ...env, ...libpqEnv(conn) };
  }
  const options = dumpOptionsFixture({ compression: { method: 'none' }, tables: ['shop.customers'] });

  async function pgDumpStderr(conn: Connection): Promise<string> {
    return execFileAsync(`${PG15}/pg_dump`, buildPgDumpArgs(options, { compress: '0' }), {
      env: dumpEnv(conn),
      encoding: 'buffer',
    }).then(
      () => '(succeeded)',
      (error: { stderr: Buffer }) => error.stderr.toString('utf8'),
    );
  }
  const conn = (): Connection => ({
    host: cluster.host,
    port: cluster.port,
    user: 'postgres',
    password: cluster.password,
    database: 'shop',
    params: {},
  });

  test(
    'the right password dumps',
    async () => {
      expect(await pgDumpStderr(conn())).toBe('(succeeded)');
    },
    T,
  );

  test(
    'wrong password → auth',
    async () => {
      const stderr = await pgDumpStderr({ ...conn(), password: 'wrong-password' });
      expect(stderr).toContain('password authentication failed for user "postgres"');
      const result = classifyPgError(stderr, { host: cluster.host, port: cluster.port });
      expect(result.kind).toBe('auth');
      expect(result.message).toContain(`Authentication to PostgreSQL at 127.0.0.1:${cluster.port} was rejected`);
      expect(result.message).not.toContain('wrong-password');
    },
    T,
  );

  test(
    'missing database, refused port, and SSL required by the client',
    async () => {
      const ctx = { host: cluster.host, port: cluster.port };
      expect(classifyPgError(await pgDumpStderr({ ...conn(), database: 'nope' }), ctx).kind).toBe('database-missing');
      const port = await freePort();
      expect(classifyPgError(await pgDumpStderr({ ...conn(), port }), { ...ctx, port }).kind).toBe(
        'connection-refused',
      );
      expect(classifyPgError(await pgDumpStderr({ ...conn(), sslmode: 'require' }), ctx).kind).toBe('ssl');
    },
    T,
  );

  test(
    'a role without privileges → permission-denied naming the table',
    async () => {
      await cluster.psql('shop', "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; GRANT USAGE ON SCHEMA shop TO reader");
      const stderr = await pgDumpStderr({ ...conn(), user: 'reader', password: 'reader-pw' });
      const result = classifyPgError(stderr, { host: cluster.host, port: cluster.port });
      expect(result.kind).toBe('permission-denied');
      expect(result.message).toContain('GRANT SELECT ON customers TO <user>');
    },
    T,
  );
});
