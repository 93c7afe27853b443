/**
 * Choosing the client (pure): which pg_dump to use for a server, whether to install one, and the
 * texts that explain the choice or its failure.
 */
import type { ClientTool, ClientToolName } from '../types.js';

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
  /** The tool the warning names (default pg_dump); pg_restore and psql sit beside pg_dump. */
  toolName?: ClientToolName | undefined;
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
  if (newer) {
    const warning = newerClientWarning(newer, { serverMajor, wanted, toolName: input.toolName ?? 'pg_dump' });
    return { action: 'use', tool: newer, warning };
  }
  return { action: 'fail', message: missingClientMessage({ ...input, wanted }) };
}

function closestNewer(found: ClientTool[], wanted: number): ClientTool | undefined {
  return found.filter((tool) => tool.major > wanted).sort((a, b) => a.major - b.major)[0];
}

function newerClientWarning(
  tool: ClientTool,
  { serverMajor, wanted, toolName }: { serverMajor: number; wanted: number; toolName: ClientToolName },
): string {
  return (
    `Using ${toolName} ${tool.version} (${siblingPath(tool.path, toolName)}) for a PostgreSQL ${serverMajor} server because no ${toolName} ${wanted} ` +
    `is available. Restoring this backup needs pg_restore ${tool.major} or newer, and a plain-SQL dump may contain ` +
    `settings an older server rejects; install postgresql-client-${wanted} for an exact match.`
  );
}

/** The path of `toolName` beside the pg_dump at `pgDumpPath` (same folder, same extension). */
function siblingPath(pgDumpPath: string, toolName: ClientToolName): string {
  return pgDumpPath.replace(/pg_dump(\.exe)?$/, (_match, exe: string | undefined) => toolName + (exe ?? ''));
}

/** "none", or each client as "path (version)", comma-separated. */
export function describeFound(found: ClientTool[]): string {
  return found.length === 0 ? 'none' : found.map((tool) => `${tool.path} (${tool.version})`).join(', ');
}

export interface MissingClientInput extends ClientDecisionInput {
  wanted: number;
  /** Set when an installation was attempted and failed. */
  installFailure?: { method: 'apt' | 'brew'; keyLine: string };
}

/** Why no client of the wanted major is available, and the fix for this platform. */
export function missingClientMessage(input: MissingClientInput): string {
  const { serverMajor, wanted, found, installFailure } = input;
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
  text += ` Fix: ${missingClientFix(input)}`;
  text += ' (A newer pg_dump also works, with a warning: put one on PATH or in PGBIN.)';
  return text;
}

function missingClientFix({ wanted, platform, osId, installFailure }: MissingClientInput): string {
  if (platform === 'linux' && osId === 'debian') {
    return (
      `Debian's own repository carries one PostgreSQL major per release; add the PGDG repository ` +
      `(\`/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y\`, see https://wiki.postgresql.org/wiki/Apt) and ` +
      `install postgresql-client-${wanted} in an earlier step, or run on an ubuntu-* runner, where the action does this itself.`
    );
  }
  if (platform === 'linux' && osId === 'ubuntu') {
    return installFailure
      ? `install postgresql-client-${wanted} from the PGDG repository in an earlier step (https://wiki.postgresql.org/wiki/Apt), or check that the runner can reach apt.postgresql.org.`
      : `enable \`install-client\` so the action installs postgresql-client-${wanted}, or install it in an earlier step.`;
  }
  if (platform === 'darwin') {
    return installFailure
      ? `install it in an earlier step (\`brew install postgresql@${wanted}\` or \`brew install libpq\`) and set PGBIN to its bin folder.`
      : `enable \`install-client\` so the action runs \`brew install postgresql@${wanted}\`, or install it in an earlier step.`;
  }
  if (platform === 'win32') {
    return (
      `the action cannot install clients on Windows: install PostgreSQL ${wanted} in an earlier step and set PGBIN to its ` +
      'bin folder, or use an ubuntu-* or macos-* runner.'
    );
  }
  return (
    `the action installs clients only on Ubuntu/Debian (apt) and macOS (brew), and this runner is ${platform}` +
    `${osId ? ` (${osId})` : ''}: install pg_dump ${wanted} in an earlier step (on PATH or in PGBIN), or use an ubuntu-* or macos-* runner.`
  );
}
