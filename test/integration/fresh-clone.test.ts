/**
 * A fresh clone works with the two commands of README.md's "Quick start", typed as written there.
 *
 * - `git clone` of this repository (its committed HEAD: uncommitted changes are not in the clone)
 *   into an empty temporary folder, so nothing is beside the checkout.
 * - The commands are read from the first fenced block after "## Quick start" (each line without its
 *   `# comment`), so the test fails when README.md drifts from what works. There must be two.
 * - Each runs there as a person's shell would run it (`sh -c <line>`), with CI=true, stdin closed,
 *   the environment of a fresh shell (no npm_* variables, NODE_OPTIONS or node_modules/.bin on
 *   PATH from this run) and npm's cache used as `npm ci --prefer-offline` uses it.
 * - The demo's archive (the "Archive:" line it prints) then really restores: its manifest's row
 *   counts are found again after `zstd -dc | pg_restore` into a scratch cluster of our own.
 *
 * Recursion: the clone's `npm test` would run this file again, and every integration test a second
 * time (10 more minutes). The nested run therefore gets TEST_INTEGRATION_ONLY=install-deps,sample-db
 * (jest.config.js): its typecheck, lint, dist/ check, workflow lint and unit tests run in full (about
 * 2 minutes; they prove the clean checkout is complete, e.g. that dist/ builds the same there), and
 * of the integration tests only the installer's and the sample database's, which prove a throwaway
 * cluster and the repository's own fixture work there; the outer run covers the rest on the same
 * commit. POSTGRES_BACKUP_FRESH_CLONE=1 marks the nested run, and this test skips itself there
 * should the subset ever name it. Node 24 is handed over as NODE24_BIN when this run has it
 * (.ci/run installs it into .tmp/node24, which a clone does not have).
 * Measured: about 3.5 minutes on 2 shared cores (demo 46 s with `npm ci` from npm's cache, nested
 * `npm test` 147 s).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Manifest } from '../../src/manifest.js';
import {
  manifestCounts,
  pgBinDir,
  repoRoot,
  restoredCounts,
  run,
  startCluster,
  type Cluster,
} from '../support/pg-cluster.js';

const T = 20 * 60_000;
const nested = process.env.POSTGRES_BACKUP_FRESH_CLONE === '1';
const maybe = nested ? test.skip : test;

/** The commands of README.md's "Quick start" block, one per non-empty line, comments removed. */
function quickStartCommands(readme: string): string[] {
  const section = /^## Quick start\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Quick start" section');
  const block = /^```[a-z]*\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (block === undefined) throw new Error('README.md\'s "Quick start" has no fenced code block');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** process.env as a fresh login shell would have it, plus `extra`. */
function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|JEST_|INPUT_)/i.test(key) || ['NODE_OPTIONS', 'INIT_CWD', 'NODE_ENV'].includes(key)) continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.includes(`${path.sep}node_modules${path.sep}`) && !dir.endsWith(`${path.sep}node_modules`))
    .join(path.delimiter);
  return { ...env, ...extra };
}

interface Ran {
  code: number | null;
  output: string;
  seconds: number;
}

/** Runs `line` with `sh -c` in `cwd`, stdin closed; stdout and stderr interleaved into one string. */
function sh(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, seconds: (Date.now() - started) / 1000 }));
  });
}

test('README.md\'s quick start is two commands: "npm run demo" and "npm test" as typed', () => {
  const commands = quickStartCommands(readFileSync(path.join(repoRoot(), 'README.md'), 'utf8'));
  expect(commands).toHaveLength(2);
  expect(commands.every((c) => /^npm (run [a-z:-]+|test)$/.test(c))).toBe(true);
});

maybe(
  'a fresh clone with nothing beside it: the quick start commands succeed and the demo archive restores',
  async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'fresh-clone-'));
    const checkout = path.join(tmp, 'postgres-backup-action');
    let cluster: Cluster | undefined;
    try {
      const root = repoRoot();
      // The checkout may belong to another user (CI containers): allow this one clone of it.
      await run(['git', '-c', `safe.directory=*`, 'clone', '--quiet', root, checkout]);
      const commands = quickStartCommands(readFileSync(path.join(checkout, 'README.md'), 'utf8'));
      expect(commands).toHaveLength(2);

      const node24 = process.env.NODE24_BIN ?? path.join(root, '.tmp', 'node24', 'node_modules', 'node', 'bin', 'node');
      const env = freshEnv({
        CI: 'true',
        npm_config_prefer_offline: 'true',
        POSTGRES_BACKUP_FRESH_CLONE: '1',
        TEST_INTEGRATION_ONLY: 'install-deps,sample-db',
        ...(existsSync(node24) ? { NODE24_BIN: node24 } : {}),
      });
      const log: string[] = [];
      let archive: string | undefined;
      for (const command of commands) {
        const ran = await sh(command, checkout, env);
        log.push(`$ ${command}  (exit ${ran.code}, ${ran.seconds} s)`);
        if (ran.code !== 0) {
          throw new Error(`${log.join('\n')}\n--- output (last 6000 characters) ---\n${ran.output.slice(-6000)}`);
        }
        archive ??= /^Archive: +(\S+)$/m.exec(ran.output)?.[1];
      }
      console.log(`fresh clone:\n${log.join('\n')}`);

      expect(archive).toBeDefined();
      expect(archive!.startsWith(path.join(checkout, 'demo-backups') + path.sep)).toBe(true);
      const manifest = JSON.parse(readFileSync(`${archive!}.manifest.json`, 'utf8')) as Manifest;
      const pgRestore = path.join(pgBinDir(), 'pg_restore');
      const listing = await run(['sh', '-c', 'zstd -dc "$1" | "$2" --list', 'sh', archive!, pgRestore]);
      expect(listing).toMatch(/TABLE DATA shop orders /);
      cluster = await startCluster();
      await cluster.createDatabase('restored');
      const restore =
        'zstd -dc "$1" | "$2" --exit-on-error --no-owner --no-privileges -h "$3" -p "$4" -U postgres -d restored';
      await run(['sh', '-c', restore, 'sh', archive!, pgRestore, cluster.socketDir, String(cluster.port)]);
      expect(await restoredCounts(cluster, 'restored', manifest)).toEqual(manifestCounts(manifest));
    } finally {
      await cluster?.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
  T,
);
