/**
 * Finding (and installing, when needed) a pg_dump whose major version matches the server's.
 *
 * The decision ({@link decideClient}) is pure; the I/O around it ({@link findClients},
 * {@link ensureClient}) is thin and takes its command runner, logger and cache as small interfaces
 * so that tests can pass real or fake ones.
 */
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, readFile, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClientInstallError, errorMessage } from '../errors.js';
import { toolOutput } from '../pipeline/process.js';
import type { ClientTool } from './types.js';

// ---------------------------------------------------------------------------------------------
// Versions

/**
 * Parses `pg_dump --version` output, e.g. "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
 * → { major: 15, version: "15.18" }; "17beta1" → { major: 17, version: "17beta1" }. Before
 * PostgreSQL 10 the major had two parts: "9.6.24" → { major: 9.6, version: "9.6.24" } (the same
 * value inspect.ts derives from server_version_num 90624, and the Debian package suffix).
 */
export function parseClientVersion(stdout: string): { major: number; version: string } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?((?:devel|alpha|beta|rc)\d*)?/.exec(stdout);
  if (!m) return undefined;
  const first = Number(m[1]);
  if (first >= 10) {
    const version = m[4] ? `${m[1]}${m[4]}` : m[2] !== undefined ? `${m[1]}.${m[2]}` : m[1]!;
    return { major: first, version };
  }
  if (first < 7 || m[2] === undefined) return undefined;
  const major = Number(`${m[1]}.${m[2]}`);
  const version = m[3] !== undefined ? `${m[1]}.${m[2]}.${m[3]}` : m[4] ? `${m[1]}.${m[2]}${m[4]}` : `${m[1]}.${m[2]}`;
  return { major, version };
}

// ---------------------------------------------------------------------------------------------
// Decision (pure)

export type ClientDecision =
  | { action: 'use'; tool: ClientTool; warning?: string }
  | { action: 'install'; method: 'apt' | 'brew'; major: number; addPgdg: boolean }
  | { action: 'fail'; message: string };

export interface ClientDecisionInput {
  serverMajor: number;
  /** The `client-version` input, when set. */
  requestedMajor?: number | undefined;
  found: ClientTool[];
  platform: NodeJS.Platform;
  /** ID from /etc/os-release (ubuntu, debian, fedora, ...). */
  osId?: string | undefined;
  /** The `install-client` input. */
  install: boolean;
}

/**
 * Picks the client. Rules, in order:
 * 1. wanted major = requested ?? server; a requested major below the server's fails (pg_dump
 *    refuses servers newer than itself);
 * 2. a client of exactly the wanted major is used;
 * 3. else, with installing allowed: apt on Ubuntu/Debian (re-adding PGDG only on Ubuntu, whose
 *    runner images remove it; on Debian nothing beyond the configured mirrors is touched), brew on macOS;
 * 4. else the closest newer client is used, with a warning;
 * 5. else fail, naming the server major, the clients found and the fix.
 */
export function decideClient(input: ClientDecisionInput): ClientDecision {
  const { serverMajor, requestedMajor, found, platform, osId, install } = input;
  const wanted = requestedMajor ?? serverMajor;
  if (requestedMajor !== undefined && requestedMajor < serverMajor) {
    return {
      action: 'fail',
      message:
        `\`client-version\` ${requestedMajor} is older than the server (PostgreSQL ${serverMajor}): pg_dump refuses to dump ` +
        `a server of a newer major version ("aborting because of server version mismatch"). Set \`client-version\` to ` +
        `${serverMajor} or newer, or leave it empty to use the server's major.`,
    };
  }
  const exact = found.find((tool) => tool.major === wanted);
  if (exact) return { action: 'use', tool: exact };
  if (install) {
    if (platform === 'linux' && (osId === 'ubuntu' || osId === 'debian')) {
      return { action: 'install', method: 'apt', major: wanted, addPgdg: osId === 'ubuntu' };
    }
    if (platform === 'darwin') return { action: 'install', method: 'brew', major: wanted, addPgdg: false };
  }
  const newer = closestNewer(found, wanted);
  if (newer) return { action: 'use', tool: newer, warning: newerClientWarning(newer, serverMajor, wanted) };
  return { action: 'fail', message: missingClientMessage({ ...input, wanted }) };
}

function closestNewer(found: ClientTool[], wanted: number): ClientTool | undefined {
  return found.filter((tool) => tool.major > wanted).sort((a, b) => a.major - b.major)[0];
}

function newerClientWarning(tool: ClientTool, serverMajor: number, wanted: number): string {
  return (
    `Using pg_dump ${tool.version} (${tool.path}) for a PostgreSQL ${serverMajor} server because no pg_dump ${wanted} ` +
    `is available. Restoring this backup needs pg_restore ${tool.major} or newer, and a plain-SQL dump may contain ` +
    `settings an older server rejects; install postgresql-client-${wanted} for an exact match.`
  );
}

function describeFound(found: ClientTool[]): string {
  return found.length === 0 ? 'none' : found.map((tool) => `${tool.path} (${tool.version})`).join(', ');
}

interface MissingClientInput extends ClientDecisionInput {
  wanted: number;
  /** Set when an installation was attempted and failed. */
  installFailure?: { method: 'apt' | 'brew'; keyLine: string };
}

function missingClientMessage(input: MissingClientInput): string {
  const { serverMajor, wanted, found, platform, osId, installFailure } = input;
  const target =
    wanted === serverMajor
      ? `the PostgreSQL ${serverMajor} server`
      : `\`client-version\` ${wanted} (server: PostgreSQL ${serverMajor})`;
  let text = `No pg_dump ${wanted} is available for ${target}. Clients found: ${describeFound(found)}.`;
  if (installFailure) {
    const command =
      installFailure.method === 'apt'
        ? `apt-get install postgresql-client-${wanted}`
        : `brew install postgresql@${wanted}`;
    text += ` \`${command}\` failed: "${installFailure.keyLine}".`;
  }
  text += ' Fix: ';
  if (platform === 'linux' && osId === 'debian') {
    text +=
      `Debian's own repository carries one PostgreSQL major per release; add the PGDG repository ` +
      `(\`/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y\`, see https://wiki.postgresql.org/wiki/Apt) and ` +
      `install postgresql-client-${wanted} in an earlier step, or run on an ubuntu-* runner, where the action does this itself.`;
  } else if (platform === 'linux' && osId === 'ubuntu') {
    text += installFailure
      ? `install postgresql-client-${wanted} from the PGDG repository in an earlier step (https://wiki.postgresql.org/wiki/Apt), or check that the runner can reach apt.postgresql.org.`
      : `enable \`install-client\` so the action installs postgresql-client-${wanted}, or install it in an earlier step.`;
  } else if (platform === 'darwin') {
    text += installFailure
      ? `install it in an earlier step (\`brew install postgresql@${wanted}\` or \`brew install libpq\`) and set PGBIN to its bin folder.`
      : `enable \`install-client\` so the action runs \`brew install postgresql@${wanted}\`, or install it in an earlier step.`;
  } else if (platform === 'win32') {
    text +=
      `the action cannot install clients on Windows: install PostgreSQL ${wanted} in an earlier step and set PGBIN to its ` +
      'bin folder, or use an ubuntu-* or macos-* runner.';
  } else {
    text +=
      `the action installs clients only on Ubuntu/Debian (apt) and macOS (brew), and this runner is ${platform}` +
      `${osId ? ` (${osId})` : ''}: install pg_dump ${wanted} in an earlier step (on PATH or in PGBIN), or use an ubuntu-* or macos-* runner.`;
  }
  text += ' (A newer pg_dump also works, with a warning: put one on PATH or in PGBIN.)';
  return text;
}

// ---------------------------------------------------------------------------------------------
// Discovery

const POSIX_DIRS = [
  '/usr/lib/postgresql/*/bin', // Debian/Ubuntu (call by full path: /usr/bin/pg_dump is a wrapper)
  '/opt/homebrew/opt/postgresql@*/bin', // Homebrew, Apple silicon
  '/opt/homebrew/opt/libpq/bin',
  '/usr/local/opt/postgresql@*/bin', // Homebrew, Intel
  '/usr/local/opt/libpq/bin',
  '/usr/pgsql-*/bin', // PGDG RPMs
];
const WINDOWS_DIRS = ['C:\\Program Files\\PostgreSQL\\*\\bin'];

/** The folders searched by default, before $PGBIN and PATH. */
export function defaultSearchDirs(platform: NodeJS.Platform = process.platform): string[] {
  return platform === 'win32' ? [...WINDOWS_DIRS] : [...POSIX_DIRS];
}

export interface FindClientsOptions {
  /**
   * Folders to look in (a `*` may stand for one path segment). Default: the well-known install
   * folders ({@link defaultSearchDirs}) then $PGBIN. When given, only these are searched (and
   * PATH only if `pathEnv` is given too).
   */
  searchDirs?: string[] | undefined;
  /** PATH to search after the folders. Default: process.env.PATH when searchDirs is not given. */
  pathEnv?: string;
  platform?: NodeJS.Platform;
}

/**
 * Every pg_dump found, in search order, deduplicated by real path. Debian's version-picking
 * wrapper (/usr/bin/pg_dump → pg_wrapper) is skipped: the real binaries are found in
 * /usr/lib/postgresql/N/bin.
 */
export async function findClients(options: FindClientsOptions = {}): Promise<ClientTool[]> {
  const platform = options.platform ?? process.platform;
  const exe = platform === 'win32' ? 'pg_dump.exe' : 'pg_dump';
  const dirs: string[] = [];
  if (options.searchDirs) {
    dirs.push(...options.searchDirs);
  } else {
    dirs.push(...defaultSearchDirs(platform));
    if (process.env.PGBIN) dirs.push(process.env.PGBIN);
  }
  const pathEnv = options.pathEnv ?? (options.searchDirs ? undefined : process.env.PATH);
  if (pathEnv) dirs.push(...pathEnv.split(path.delimiter).filter((dir) => dir.length > 0));

  const tools: ClientTool[] = [];
  const seen = new Set<string>();
  for (const pattern of dirs) {
    for (const dir of await expandDir(pattern)) {
      const file = path.join(dir, exe);
      if (!(await isExecutable(file))) continue;
      let real: string;
      try {
        real = await realpath(file);
      } catch {
        continue;
      }
      if (seen.has(real) || path.basename(real) === 'pg_wrapper') continue;
      seen.add(real);
      const version = await readVersion(file);
      if (version) tools.push({ path: file, ...version });
    }
  }
  return tools;
}

async function readVersion(file: string): Promise<{ major: number; version: string } | undefined> {
  const output = await toolOutput(file, ['--version']);
  return output && parseClientVersion(output.stdout);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, process.platform === 'win32' ? fsConstants.F_OK : fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Expands `*` in whole path segments; newest-looking versions first. */
async function expandDir(pattern: string): Promise<string[]> {
  const sep = pattern.includes('\\') && !pattern.includes('/') ? '\\' : '/';
  const parts = pattern.split(sep);
  const star = parts.findIndex((part) => part.includes('*'));
  if (star === -1) return [pattern];
  const parent = parts.slice(0, star).join(sep) || sep;
  const regex = new RegExp(`^${parts[star]!.split('*').map(escapeRegExp).join('.*')}$`);
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return [];
  }
  const matches = entries.filter((entry) => regex.test(entry)).sort(compareVersionsDesc);
  const out: string[] = [];
  for (const entry of matches) {
    const rest = parts.slice(star + 1);
    const base = parent.endsWith(sep) ? `${parent}${entry}` : `${parent}${sep}${entry}`;
    out.push(...(await expandDir([base, ...rest].join(sep))));
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compareVersionsDesc(a: string, b: string): number {
  const na = Number(/\d+(\.\d+)?/.exec(a)?.[0] ?? NaN);
  const nb = Number(/\d+(\.\d+)?/.exec(b)?.[0] ?? NaN);
  if (!Number.isNaN(na) && !Number.isNaN(nb) && na !== nb) return nb - na;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Installing

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

export interface EnsureClientOptions {
  serverMajor: number;
  requestedMajor?: number | undefined;
  install: boolean;
  runner: CommandRunner;
  log: Logger;
  cache?: ClientCache;
  platform?: NodeJS.Platform;
  /** /etc/os-release ID; read from the file when not given (Linux). */
  osId?: string | undefined;
  /** Folders to search instead of the default ones (see {@link FindClientsOptions.searchDirs}). */
  searchDirs?: string[];
}

export interface EnsuredClient {
  pgDump: ClientTool;
  /** Folder with pg_dump, pg_dumpall, pg_restore and psql of that major. */
  binDir: string;
  installedBy?: 'apt' | 'brew' | 'cache';
  warning?: string;
}

/** Finds, or installs, the pg_dump to use for a server of `serverMajor`. */
export async function ensureClient(opts: EnsureClientOptions): Promise<EnsuredClient> {
  const platform = opts.platform ?? process.platform;
  const release = platform === 'linux' ? await readOsRelease() : {};
  const osId = opts.osId ?? release.id;
  const found = await findClients({ searchDirs: opts.searchDirs, platform });
  const base: ClientDecisionInput = {
    serverMajor: opts.serverMajor,
    requestedMajor: opts.requestedMajor,
    found,
    platform,
    osId,
    install: opts.install,
  };
  const decision = decideClient(base);
  if (decision.action === 'fail') throw new ClientInstallError(decision.message);
  if (decision.action === 'use') {
    // The warning is returned, not logged: the caller shows it (once).
    return finish(decision.tool, platform, opts.log, undefined, decision.warning);
  }

  opts.log.info(
    `No pg_dump ${decision.major} found (clients found: ${describeFound(found)}); installing it with ${decision.method}.`,
  );
  const outcome =
    decision.method === 'apt'
      ? await installWithApt(decision.major, decision.addPgdg, opts, osId, release.versionId)
      : await installWithBrew(decision.major, opts);
  if ('tool' in outcome) return finish(outcome.tool, platform, opts.log, outcome.installedBy, undefined);

  // The install failed: fall back to a newer client if there is one, else explain.
  const fallback = decideClient({ ...base, install: false });
  if (fallback.action === 'use') {
    const warning =
      `${decision.method} could not install postgresql-client-${decision.major} ("${outcome.keyLine}"). ${fallback.warning ?? ''}`.trim();
    return finish(fallback.tool, platform, opts.log, undefined, warning);
  }
  throw new ClientInstallError(
    missingClientMessage({
      ...base,
      wanted: decision.major,
      installFailure: { method: decision.method, keyLine: outcome.keyLine },
    }),
  );
}

async function finish(
  tool: ClientTool,
  platform: NodeJS.Platform,
  log: Logger,
  installedBy: EnsuredClient['installedBy'],
  warning: string | undefined,
): Promise<EnsuredClient> {
  const binDir = path.dirname(tool.path);
  const suffix = platform === 'win32' ? '.exe' : '';
  const missing: string[] = [];
  for (const name of ['pg_dumpall', 'pg_restore', 'psql']) {
    if (!(await isExecutable(path.join(binDir, name + suffix)))) missing.push(name);
  }
  if (missing.length > 0) {
    log.warning(`${binDir} has pg_dump ${tool.version} but not ${missing.join(', ')}; steps that need them will fail.`);
  }
  if (installedBy) log.info(`Installed pg_dump ${tool.version} at ${tool.path} (with ${installedBy}).`);
  const result: EnsuredClient = { pgDump: tool, binDir };
  if (installedBy) result.installedBy = installedBy;
  if (warning) result.warning = warning;
  return result;
}

type InstallOutcome = { tool: ClientTool; installedBy: 'apt' | 'brew' | 'cache' } | { keyLine: string };

/** Cache key for the downloaded .deb files. */
export function clientCacheKey(osId: string, osVersion: string, arch: string, major: number): string {
  return `pg-client-${osId}-${osVersion}-${arch}-${major}-v1`;
}

export function debCacheDir(): string {
  return path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'pg-client-debs');
}

async function installWithApt(
  major: number,
  addPgdg: boolean,
  opts: EnsureClientOptions,
  osId: string | undefined,
  osVersion: string | undefined,
): Promise<InstallOutcome> {
  const { runner, log } = opts;
  const sudo = await needsSudo();
  const root = (cmd: string, args: string[]) =>
    sudo
      ? runner.run('sudo', ['-n', 'DEBIAN_FRONTEND=noninteractive', cmd, ...args])
      : runner.run(cmd, args, { env: { DEBIAN_FRONTEND: 'noninteractive' } });
  const installedDir = `/usr/lib/postgresql/${major}/bin`;
  const lookForClient = async () =>
    (await findClients({ searchDirs: [...(opts.searchDirs ?? []), installedDir], platform: 'linux' })).find(
      (tool) => tool.major === major,
    );

  const debDir = debCacheDir();
  const key = clientCacheKey(osId ?? 'linux', osVersion ?? 'unknown', process.arch, major);

  if (opts.cache) {
    try {
      if (await opts.cache.restore(key, [debDir])) {
        const debs = (await readdir(debDir)).filter((f) => f.endsWith('.deb')).map((f) => path.join(debDir, f));
        if (debs.length > 0) {
          const result = await root('dpkg', ['--refuse-downgrade', '-i', ...debs]);
          const tool = result.exitCode === 0 ? await lookForClient() : undefined;
          if (tool) return { tool, installedBy: 'cache' };
          log.warning(
            `Installing the cached postgresql-client-${major} packages failed (${keyLine(result)}); using apt.`,
          );
        }
      }
    } catch (error) {
      log.warning(`Restoring the postgresql-client cache failed: ${errorMessage(error)}; using apt.`);
    }
  }

  if (addPgdg) {
    const script = '/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh';
    if (!(await isExecutable(script))) {
      const common = await root('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql-common']);
      if (common.exitCode !== 0) log.warning(`apt-get install postgresql-common failed: ${keyLine(common)}`);
    }
    const pgdg = await root(script, ['-y']);
    if (pgdg.exitCode !== 0) log.warning(`Adding the PGDG apt repository failed: ${keyLine(pgdg)}`);
  }

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
  let result = await root('apt-get', installArgs);
  if (
    result.exitCode !== 0 &&
    /Unable to locate package|has no installation candidate|Failed to fetch/i.test(result.stdout + result.stderr)
  ) {
    log.info(`apt-get could not find postgresql-client-${major}; running apt-get update and retrying.`);
    const update = await root('apt-get', ['update']);
    if (update.exitCode !== 0) log.warning(`apt-get update failed: ${keyLine(update)}`);
    result = await root('apt-get', installArgs);
  }
  if (result.exitCode !== 0) return { keyLine: keyLine(result) };
  const tool = await lookForClient();
  if (!tool) return { keyLine: `apt-get succeeded but no pg_dump ${major} appeared in ${installedDir}` };

  if (opts.cache) {
    try {
      const debs = (await readdir(debDir)).filter((f) => f.endsWith('.deb'));
      if (debs.length > 0) await opts.cache.save(key, [debDir]);
    } catch (error) {
      log.warning(`Saving the postgresql-client packages to the cache failed: ${errorMessage(error)}`);
    }
  }
  return { tool, installedBy: 'apt' };
}

async function installWithBrew(major: number, opts: EnsureClientOptions): Promise<InstallOutcome> {
  const { runner } = opts;
  const formula = `postgresql@${major}`;
  const env = { HOMEBREW_NO_INSTALL_CLEANUP: '1', HOMEBREW_NO_ENV_HINTS: '1' };
  const result = await runner.run('brew', ['install', formula], { env });
  if (result.exitCode !== 0) return { keyLine: keyLine(result) };
  const prefix = await runner.run('brew', ['--prefix', formula], { env });
  const dirs = [...(opts.searchDirs ?? defaultSearchDirs('darwin'))];
  if (prefix.exitCode === 0 && prefix.stdout.trim()) dirs.unshift(path.join(prefix.stdout.trim(), 'bin'));
  const tool = (await findClients({ searchDirs: dirs, platform: 'darwin' })).find((t) => t.major === major);
  if (!tool) return { keyLine: `brew installed ${formula} but no pg_dump ${major} was found in its prefix` };
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

/** ID and VERSION_ID from /etc/os-release. */
export async function readOsRelease(file = '/etc/os-release'): Promise<{ id?: string; versionId?: string }> {
  try {
    return parseOsRelease(await readFile(file, 'utf8'));
  } catch {
    return {};
  }
}

export function parseOsRelease(text: string): { id?: string; versionId?: string } {
  const out: { id?: string; versionId?: string } = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^(ID|VERSION_ID)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = m[2]!.replace(/^["']|["']$/g, '');
    if (m[1] === 'ID') out.id = value;
    else out.versionId = value;
  }
  return out;
}
