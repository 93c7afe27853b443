/**
 * The real I/O behind each command (node-pg, the client tools' processes, stores, apt/brew
 * installs), assembled from what the host gives. Used by the command runner and by tests.
 */
import type { BackupDeps } from '../commands/backup.js';
import type { RetentionDeps } from '../commands/prune.js';
import type { ClientConfig, BackupConfig } from '../config/types.js';
import type { Host } from '../host.js';
import type { Log } from '../log.js';
import type { ToolProbes } from './context.js';
import { detectCompressors } from '../pipeline/compression.js';
import { ensureClient, execRunner } from '../postgres/client.js';
import { processDumper } from '../postgres/dumper.js';
import { connectInspector } from '../postgres/inspect.js';
import { detectStdbuf } from '../postgres/stdbuf.js';
import type { RestoreDeps } from '../restore/deps.js';
import { createStore } from '../storage/index.js';
import { VERSION } from '../version.js';
import { tmpdir } from 'node:os';

/** The real I/O of prune and list (and of the prune after a backup): stores, and the time now. */
export function retentionDeps(log: Log): RetentionDeps {
  return { now: new Date(), log, createStore };
}

/** What the deps take from the host besides the log: the installer's runner and cache, a temporary folder. */
export type HostIo = Pick<Host, 'runner' | 'cache' | 'tempDir'>;

/** Outside a host (tests, the bench): a quiet runner, no cache, the system's temporary folder. */
const PLAIN_IO: HostIo = { runner: execRunner({ silent: true }), tempDir: tmpdir() };

/** The real I/O behind a backup: node-pg, pg_dump processes, S3 or folder stores, apt/brew installs. */
export function realDeps(
  config: BackupConfig,
  signal: AbortSignal | undefined,
  logTo: Log,
  io: HostIo = PLAIN_IO,
  probes?: ToolProbes,
): BackupDeps {
  const finder = clientFinder(config, logTo, io);
  return {
    log: logTo,
    connect: (connection) => connectInspector(connection),
    ensureClient: probes
      ? (major, tool) => remembered(probes.clients, `${major}/${tool ?? ''}`, () => finder(major, tool))
      : finder,
    detectCompressors,
    detectGpg: async () => (await import('../crypto/gpg.js')).detectGpg(),
    detectStdbuf: probes ? (pgDump) => remembered(probes.stdbuf, pgDump, () => detectStdbuf(pgDump)) : detectStdbuf,
    createStore,
    dumper: (binDir) => processDumper(binDir, (line) => logTo.info(line)),
    tempDir: io.tempDir,
    now: () => new Date(),
    ...(signal ? { signal } : {}),
    version: VERSION,
    workspace: process.env['GITHUB_WORKSPACE'] || process.cwd(),
  };
}

/** The real I/O behind a restore or a drill: node-pg, pg_restore and psql processes, stores. */
export function restoreDeps(
  config: ClientConfig,
  signal: AbortSignal | undefined,
  logTo: Log,
  io: HostIo & Pick<Host, 'confirmOverwrite'> = PLAIN_IO,
): RestoreDeps {
  return {
    log: logTo,
    connect: (connection) => connectInspector(connection),
    ensureClient: clientFinder(config, logTo, io),
    detectCompressors,
    createStore,
    tempDir: io.tempDir,
    now: () => new Date(),
    ...(signal ? { signal } : {}),
    ...(io.confirmOverwrite ? { confirmOverwrite: io.confirmOverwrite } : {}),
  };
}

/**
 * The first answer to `key` in `memo`, asked once: a run over several databases searches for the
 * client and probes stdbuf once, not once per database (two process starts each, ~100 ms). A
 * rejected answer is dropped, so a later database asks again.
 */
function remembered<T>(memo: Map<string, Promise<unknown>>, key: string, ask: () => Promise<T>): Promise<T> {
  const known = memo.get(key) as Promise<T> | undefined;
  if (known) return known;
  const answer = ask();
  memo.set(key, answer);
  answer.catch(() => memo.delete(key));
  return answer;
}

/**
 * The end of the last client search of this process: searches (and apt/brew installs) run one at a
 * time, so that databases backed up in parallel (`parallel-databases`) never run two package
 * installs at once; the second finds what the first installed.
 */
let clientSearch: Promise<unknown> = Promise.resolve();

/** Finds (or installs, per `install-client`) the client tools for a server or archive major, one search at a time. */
function clientFinder(config: ClientConfig, logTo: Log, io: HostIo): BackupDeps['ensureClient'] {
  return (serverMajor, tool) => {
    const search = (): ReturnType<typeof ensureClient> =>
      ensureClient({
        serverMajor,
        tool,
        ...(config.clientMajor === undefined ? {} : { requestedMajor: config.clientMajor }),
        install: config.installClient,
        runner: io.runner,
        log: logTo,
        ...(io.cache ? { cache: io.cache } : {}),
      });
    const result = clientSearch.then(search, search);
    clientSearch = result.catch(() => undefined);
    return result;
  };
}
