/**
 * Finding (and installing, when needed) a pg_dump whose major version matches the server's.
 *
 * Three jobs, one module each: choosing is pure (client/choose.ts, {@link decideClient}), finding
 * reads the disk (client/find.ts, {@link findClients}), installing runs apt or brew
 * (client/install.ts). {@link ensureClient} composes them; its command runner, logger and cache are
 * small interfaces so that tests can pass real or fake ones.
 */
import path from 'node:path';
import { ClientInstallError } from '../errors.js';
import { decideClient, describeFound, missingClientMessage, type ClientDecisionInput } from './client/choose.js';
import { findClients, isExecutable, readOsRelease } from './client/find.js';
import { installClient, type ClientCache, type CommandRunner, type Logger } from './client/install.js';
import type { ClientTool, ClientToolName } from './types.js';

export { decideClient, type ClientDecision, type ClientDecisionInput } from './client/choose.js';
export {
  defaultSearchDirs,
  findClients,
  parseClientVersion,
  parseOsRelease,
  readOsRelease,
  type FindClientsOptions,
} from './client/find.js';
export {
  actionsCache,
  clientCacheKey,
  debCacheDir,
  execRunner,
  type ClientCache,
  type CommandResult,
  type CommandRunner,
  type Logger,
} from './client/install.js';

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
  /** Folders to search instead of the default ones (see FindClientsOptions.searchDirs). */
  searchDirs?: string[];
  /**
   * The tool the caller will run (default pg_dump): the returned warning names it. pg_dump is
   * searched either way; pg_restore and psql are its siblings. Errors always name pg_dump.
   */
  tool?: ClientToolName | undefined;
}

export interface EnsuredClient {
  pgDump: ClientTool;
  /** Folder with pg_dump, pg_dumpall, pg_restore and psql of that major. */
  binDir: string;
  installedBy?: 'apt' | 'brew' | 'cache';
  /** Why a client of another major is used; not logged here, the caller shows it once. */
  warning?: string;
}

/**
 * Finds, or installs, the pg_dump to use for a server of `serverMajor`.
 * @throws ClientInstallError when no usable client is found or can be installed.
 */
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
    toolName: opts.tool,
  };
  const decision = decideClient(base);
  if (decision.action === 'fail') throw new ClientInstallError(decision.message);
  if (decision.action === 'use') return finish(decision.tool, platform, opts.log, undefined, decision.warning);

  opts.log.info(
    `No pg_dump ${decision.major} found (clients found: ${describeFound(found)}); installing it with ${decision.method}.`,
  );
  const request = { major: decision.major, addPgdg: decision.addPgdg, osId, osVersion: release.versionId };
  const outcome = await installClient(decision.method, request, opts);
  if ('tool' in outcome) return finish(outcome.tool, platform, opts.log, outcome.installedBy, undefined);

  // The install failed: fall back to a newer client if there is one, else explain.
  const fallback = decideClient({ ...base, install: false });
  if (fallback.action === 'use') {
    const warning =
      `${decision.method} could not install postgresql-client-${decision.major} ("${outcome.keyLine(opts.tool ?? 'pg_dump')}"). ${fallback.warning ?? ''}`.trim();
    return finish(fallback.tool, platform, opts.log, undefined, warning);
  }
  throw new ClientInstallError(
    missingClientMessage({
      ...base,
      wanted: decision.major,
      installFailure: { method: decision.method, keyLine: outcome.keyLine('pg_dump') },
    }),
  );
}

/** The result for `tool`, after warning when its folder lacks the siblings later steps run. */
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
