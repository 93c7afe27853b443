/**
 * scripts/install-deps.sh, which `npm test` (pretest), `npm run demo` and `npm run setup` run first:
 * silent and successful when everything is there; as a user without root or sudo, with packages
 * missing, it installs nothing and stops at once printing the one command to run.
 * The second case runs a copy of the script as `nobody` with a PATH that lacks zstd, lz4, gzip, tar,
 * gpg and sudo (so it needs root to switch users, and is skipped otherwise).
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/pg-cluster.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<Ran> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The absolute path of `name` on this PATH. */
async function which(name: string): Promise<string> {
  const { stdout } = await run(['sh', '-c', 'command -v "$1"', 'sh', name]);
  return stdout.trim();
}

test('with everything installed it succeeds and prints nothing', async () => {
  const ran = await run(['bash', path.join(repoRoot(), 'scripts', 'install-deps.sh')]);
  expect(ran).toEqual({ code: 0, stdout: '', stderr: '' });
});

const asRoot = process.getuid?.() === 0 ? test : test.skip;

asRoot('without root or sudo it installs nothing and prints the one command to run', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'install-deps-'));
  try {
    mkdirSync(path.join(tmp, 'scripts'));
    mkdirSync(path.join(tmp, 'bin'));
    copyFileSync(path.join(repoRoot(), 'scripts', 'install-deps.sh'), path.join(tmp, 'scripts', 'install-deps.sh'));
    for (const tool of ['bash', 'dirname', 'apt-get']) symlinkSync(await which(tool), path.join(tmp, 'bin', tool));
    chmodSync(tmp, 0o755);

    const env = { PATH: path.join(tmp, 'bin'), HOME: tmp, LANG: 'C.UTF-8' };
    const script = path.join(tmp, 'scripts', 'install-deps.sh');
    const ran = await run(
      [await which('runuser'), '-u', 'nobody', '--', path.join(tmp, 'bin', 'bash'), script],
      env,
      tmp,
    );
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toContain(
      "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends zstd lz4 gzip tar gnupg'",
    );
    expect(ran.stderr).not.toContain('== Installing');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
