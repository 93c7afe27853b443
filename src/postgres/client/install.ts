/**
 * Installing a client of a given major: apt (with the downloaded .deb files kept in the actions
 * cache) on Ubuntu/Debian, brew on macOS. Commands run through a {@link CommandRunner} so tests
 * can pass a real or a fake one.
 */
import { mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../../errors.js';
import type { ClientTool, ClientToolName } from '../types.js';
import { defaultSearchDirs, findClients, isExecutable } from './find.js';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(cmd: string, args: string[], opts?: { env?: Record<string, string> }): Promise<CommandResult>;
}

export interface Logger {
  info(message: string): void;
  warning(message: string): void;
}

export interface ClientCache {
  /** True when the paths were restored from the cache. */
  restore(key: string, paths: string[]): Promise<boolean>;
  save(key: string, paths: string[]): Promise<void>;
}

/**
 * A {@link CommandRunner} on @actions/exec (`getExecOutput`, `ignoreReturnCode`). `opts.env` is
 * added to the current environment. A command that cannot be started gives exit code 127.
 */
export function execRunner(options: { silent?: boolean } = {}): CommandRunner {
  return {
    async run(cmd, args, opts) {
      const { getExecOutput } = await import('@actions/exec');
      let env: Record<string, string> | undefined;
      if (opts?.env) {
        env = {};
        for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
        Object.assign(env, opts.env);
      }
      try {
        const result = await getExecOutput(cmd, args, {
          ignoreReturnCode: true,
          silent: options.silent ?? false,
          ...(env ? { env } : {}),
        });
        return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
      } catch (error) {
        return { exitCode: 127, stdout: '', stderr: errorMessage(error) };
      }
    },
  };
}

/** A {@link ClientCache} on @actions/cache; does nothing when the cache service is not available. */
export function actionsCache(): ClientCache {
  return {
    async restore(key, paths) {
      const cache = await import('@actions/cache');
      if (!cache.isFeatureAvailable()) return false;
      return (await cache.restoreCache(paths, key)) !== undefined;
    },
    async save(key, paths) {
      const cache = await import('@actions/cache');
      if (!cache.isFeatureAvailable()) return;
      await cache.saveCache(paths, key);
    },
  };
}

/** Cache key for the downloaded .deb files. */
export function clientCacheKey(osId: string, osVersion: string, arch: string, major: number): string {
  return `pg-client-${osId}-${osVersion}-${arch}-${major}-v1`;
}

/** The folder apt downloads the .deb files to ($RUNNER_TEMP or the OS temp folder). */
export function debCacheDir(): string {
  return path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'pg-client-debs');
}

/** What the installers use of ensureClient's options. */
export interface InstallContext {
  runner: CommandRunner;
  log: Logger;
  cache?: ClientCache;
  /** Folders searched before the install folder (see FindClientsOptions.searchDirs). */
  searchDirs?: string[];
}

export interface InstallRequest {
  major: number;
  /** Add the PGDG apt repository first (Ubuntu). */
  addPgdg: boolean;
  /** /etc/os-release ID and VERSION_ID, for the cache key. */
  osId: string | undefined;
  osVersion: string | undefined;
}

/**
 * The installed client, or the line worth quoting about the failure. Lines the action writes
 * itself name the tool the caller runs (see ClientDecisionInput.toolName).
 */
export type InstallOutcome =
  { tool: ClientTool; installedBy: 'apt' | 'brew' | 'cache' } | { keyLine: (toolName: ClientToolName) => string };

/** Installs postgresql-client-N with `method`; never throws for a failed command. */
export function installClient(
  method: 'apt' | 'brew',
  request: InstallRequest,
  ctx: InstallContext,
): Promise<InstallOutcome> {
  return method === 'apt' ? installWithApt(request, ctx) : installWithBrew(request.major, ctx);
}

type RootRunner = (cmd: string, args: string[]) => Promise<CommandResult>;

/** Runs commands as root: through `sudo -n` when sudo is on PATH and we are not root. */
async function rootRunner(runner: CommandRunner): Promise<RootRunner> {
  const sudo = await needsSudo();
  return (cmd, args) =>
    sudo
      ? runner.run('sudo', ['-n', 'DEBIAN_FRONTEND=noninteractive', cmd, ...args])
      : runner.run(cmd, args, { env: { DEBIAN_FRONTEND: 'noninteractive' } });
}

async function installWithApt(request: InstallRequest, ctx: InstallContext): Promise<InstallOutcome> {
  const { major } = request;
  const root = await rootRunner(ctx.runner);
  const installedDir = `/usr/lib/postgresql/${major}/bin`;
  const lookForClient = async () =>
    (await findClients({ searchDirs: [...(ctx.searchDirs ?? []), installedDir], platform: 'linux' })).find(
      (tool) => tool.major === major,
    );
  const debDir = debCacheDir();
  const key = clientCacheKey(request.osId ?? 'linux', request.osVersion ?? 'unknown', process.arch, major);

  if (ctx.cache) {
    const tool = await installCachedDebs({ root, major, debDir, key, cache: ctx.cache, log: ctx.log }, lookForClient);
    if (tool) return { tool, installedBy: 'cache' };
  }
  if (request.addPgdg) await addPgdgRepository(root, ctx.log);

  const result = await aptGetInstall(root, major, debDir, ctx.log);
  if (result.exitCode !== 0) return { keyLine: () => keyLine(result) };
  const tool = await lookForClient();
  if (!tool) return { keyLine: (name) => `apt-get succeeded but no ${name} ${major} appeared in ${installedDir}` };

  if (ctx.cache) await saveDebs(ctx.cache, key, debDir, ctx.log);
  return { tool, installedBy: 'apt' };
}

interface DebCache {
  root: RootRunner;
  major: number;
  debDir: string;
  key: string;
  cache: ClientCache;
  log: Logger;
}

/** Installs the .deb files of an earlier run from the cache; undefined (after a warning) when that fails. */
async function installCachedDebs(
  { root, major, debDir, key, cache, log }: DebCache,
  lookForClient: () => Promise<ClientTool | undefined>,
): Promise<ClientTool | undefined> {
  try {
    if (await cache.restore(key, [debDir])) {
      const debs = (await readdir(debDir)).filter((f) => f.endsWith('.deb')).map((f) => path.join(debDir, f));
      if (debs.length > 0) {
        const result = await root('dpkg', ['--refuse-downgrade', '-i', ...debs]);
        const tool = result.exitCode === 0 ? await lookForClient() : undefined;
        if (tool) return tool;
        log.warning(
          `Installing the cached postgresql-client-${major} packages failed (${keyLine(result)}); using apt.`,
        );
      }
    }
  } catch (error) {
    log.warning(`Restoring the postgresql-client cache failed: ${errorMessage(error)}; using apt.`);
  }
  return undefined;
}

/** Adds apt.postgresql.org (installing postgresql-common for its script when needed); failures only warn. */
async function addPgdgRepository(root: RootRunner, log: Logger): Promise<void> {
  const script = '/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh';
  if (!(await isExecutable(script))) {
    const common = await root('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql-common']);
    if (common.exitCode !== 0) log.warning(`apt-get install postgresql-common failed: ${keyLine(common)}`);
  }
  const pgdg = await root(script, ['-y']);
  if (pgdg.exitCode !== 0) log.warning(`Adding the PGDG apt repository failed: ${keyLine(pgdg)}`);
}

/** `apt-get install postgresql-client-N`, keeping the .deb files in `debDir`; retried once after `apt-get update`. */
async function aptGetInstall(root: RootRunner, major: number, debDir: string, log: Logger): Promise<CommandResult> {
  await mkdir(path.join(debDir, 'partial'), { recursive: true });
  const installArgs = [
    'install',
    '-y',
    '--no-install-recommends',
    '-o',
    `Dir::Cache::Archives=${debDir}`,
    '-o',
    'APT::Keep-Downloaded-Packages=true',
    `postgresql-client-${major}`,
  ];
  const result = await root('apt-get', installArgs);
  if (
    result.exitCode !== 0 &&
    /Unable to locate package|has no installation candidate|Failed to fetch/i.test(result.stdout + result.stderr)
  ) {
    log.info(`apt-get could not find postgresql-client-${major}; running apt-get update and retrying.`);
    const update = await root('apt-get', ['update']);
    if (update.exitCode !== 0) log.warning(`apt-get update failed: ${keyLine(update)}`);
    return root('apt-get', installArgs);
  }
  return result;
}

/** Saves the downloaded .deb files to the cache; a failure only warns. */
async function saveDebs(cache: ClientCache, key: string, debDir: string, log: Logger): Promise<void> {
  try {
    const debs = (await readdir(debDir)).filter((f) => f.endsWith('.deb'));
    if (debs.length > 0) await cache.save(key, [debDir]);
  } catch (error) {
    log.warning(`Saving the postgresql-client packages to the cache failed: ${errorMessage(error)}`);
  }
}

async function installWithBrew(major: number, ctx: InstallContext): Promise<InstallOutcome> {
  const { runner } = ctx;
  const formula = `postgresql@${major}`;
  const env = { HOMEBREW_NO_INSTALL_CLEANUP: '1', HOMEBREW_NO_ENV_HINTS: '1' };
  const result = await runner.run('brew', ['install', formula], { env });
  if (result.exitCode !== 0) return { keyLine: () => keyLine(result) };
  const prefix = await runner.run('brew', ['--prefix', formula], { env });
  const dirs = [...(ctx.searchDirs ?? defaultSearchDirs('darwin'))];
  if (prefix.exitCode === 0 && prefix.stdout.trim()) dirs.unshift(path.join(prefix.stdout.trim(), 'bin'));
  const tool = (await findClients({ searchDirs: dirs, platform: 'darwin' })).find((t) => t.major === major);
  if (!tool) return { keyLine: (name) => `brew installed ${formula} but no ${name} ${major} was found in its prefix` };
  return { tool, installedBy: 'brew' };
}

/** The line of a failed command worth quoting: apt's "E: ..." line, else the last line of stderr/stdout. */
function keyLine(result: CommandResult): string {
  const lines = `${result.stderr}\n${result.stdout}`
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const line =
    lines.find((l) => /^E: /.test(l)) ??
    lines.find((l) => /^Error:|error:/i.test(l)) ??
    lines.at(-1) ??
    `exit code ${result.exitCode}`;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

async function needsSudo(): Promise<boolean> {
  if (process.getuid?.() === 0) return false;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && (await isExecutable(path.join(dir, 'sudo')))) return true;
  }
  return false;
}
