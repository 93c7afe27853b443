import { ConfigError } from '../errors.js';
import { checkExtraPgDumpArgs } from '../postgres/dump-args.js';
import {
  oneOf,
  parseBoolean,
  parseLabelValue,
  parseConnectionInputs,
  parseInteger,
  type ConnectionInputNames,
} from './values.js';
import type { Compression, CompressionMethod } from '../pipeline/compression.js';
import type { Connection, DumpOptions } from '../postgres/types.js';
import { keyPairError, parseDestination, parseS3Endpoint } from '../storage/destination.js';
import type { Destination, S3Settings } from '../storage/types.js';
import { withDefaults } from './inputs.js';
import { ENCRYPTION_INPUTS } from './encryption.js';
import { parseReportingInputs } from './reporting.js';
import { parseHeartbeatInputs } from './heartbeat.js';
import { parseRetentionInputs, PRUNE_NEEDS_POLICY } from './retention.js';
import { parseAnomalyInputs } from './anomaly.js';
import { parseFilesInputs } from './files.js';
import { parseRestoreInputs } from './restore.js';
import { MAINTENANCE_DATABASE, parseDatabaseSelection, selectionName } from './databases.js';
import { resolveFilesTarget } from './files-target.js';
import type { RetentionInputs, RetentionPolicy } from '../retention/policy.js';
import { COMMANDS, type ClientConfig, type Command, type Config, type InputReader } from './types.js';

/**
 * {@link parseConfig}, then the inputs that need async validation (OpenPGP keys are parsed and
 * checked: malformed, expired, no encryption subkey, wrong passphrase): the encryption inputs for
 * `backup`, the decryption inputs for `restore` and `drill`. Other commands never read them, as
 * restore inputs are not read by a backup.
 * @throws ConfigError as parseConfig does.
 */
export async function resolveConfig(read: InputReader): Promise<Config> {
  const config = await withFilesTarget(parseConfig(read));
  const inputs = withDefaults(read);
  // OpenPGP.js is loaded only when a key or passphrase is given to a command that uses it.
  const given = ENCRYPTION_INPUTS.some((i) => inputs(i.name) !== '');
  if (!given) return config;
  switch (config.command) {
    case 'backup': {
      const { parseEncryptionInputs } = await import('./openpgp-inputs.js');
      const encryption = await parseEncryptionInputs(inputs);
      return encryption ? { ...config, encryption } : config;
    }
    case 'restore':
    case 'drill': {
      const { parseDecryptionInputs } = await import('./openpgp-inputs.js');
      const decryption = await parseDecryptionInputs(inputs);
      return decryption ? { ...config, decryption } : config;
    }
    default:
      return config;
  }
}

/**
 * A restore's `files-target` made absolute (against `GITHUB_WORKSPACE`, else the current folder)
 * and checked not to be a file, before any work.
 * @throws ConfigError('files-target').
 */
async function withFilesTarget(config: Config): Promise<Config> {
  if (config.command !== 'restore' || !config.files) return config;
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  return { ...config, files: await resolveFilesTarget(config.files, workspace) };
}

/**
 * Reads every input once and returns the typed, validated {@link Config} of the command that runs.
 * Every input is validated whatever the command (a bad `keep-last` fails a restore too); the
 * config carries only what its command reads.
 *
 * Pure apart from `read`: no I/O, no logging. Empty inputs take their action.yml default.
 * @throws ConfigError naming the first bad input, what is wrong and how to fix it. Messages never
 *   contain the value of a secret input.
 */
export function parseConfig(read: InputReader): Config {
  const inputs = withDefaults(read);
  const input = inputs;

  const command = oneOf('command', input('command'), COMMANDS);
  const anomaly = parseAnomalyInputs(input, command);
  const selection = parseDatabaseSelection(inputs, command);
  const files = parseFilesInputs(input, command, selection !== undefined);
  const source = parseSource(command, selection ? connectionOfSelection(inputs) : inputs);
  const destinations = parseDestinations(input('destination'));
  const retention = parseRetentionInputs(inputs);
  const policy = retentionPart(command, retention);
  const s3 = parseS3Settings(input);
  const dump = parseDumpOptions(input, command);
  const restore =
    command === 'restore' || command === 'drill' || command === 'check' ? parseRestoreInputs(inputs) : undefined;
  const label = input('label') === '' ? undefined : parseLabelValue('label', input('label'));
  const rowCounts = oneOf('row-counts', input('row-counts'), ['exact', 'estimate'] as const);
  const verify = oneOf('verify', input('verify'), ['content', 'counts'] as const);
  const client = parseClient(input);
  // Read again by the runner (run.ts) on its own, so that a bad input elsewhere still pings the failure.
  parseHeartbeatInputs(inputs);
  const common = {
    database: selection ? selectionName(selection) : source.database,
    ...(selection ? { databases: selection } : {}),
    destinations,
    s3,
    summary: parseBoolean('summary', input('summary')),
    reporting: parseReportingInputs(inputs),
    keepalive: parseBoolean('keepalive', input('keepalive')),
  };
  if (restore)
    return restore.command === 'check'
      ? {
          ...common,
          ...restore,
          anomaly,
          filesMaxDrop: anomaly.maxRowDrop,
        }
      : { ...common, ...client, ...restore };
  if (source.command === 'backup') {
    const { connection } = source;
    return {
      command: 'backup',
      connection,
      ...common,
      dump,
      ...(label === undefined ? {} : { label }),
      rowCounts,
      verify,
      ...client,
      retention,
      anomaly,
      ...(files ? { files } : {}),
    };
  }
  if (policy.command === 'prune') return { ...common, ...policy, anomaly };
  return { command: 'list', ...common, ...(retention.policy ? { policy: retention.policy } : {}) };
}

/** Where the source database's name comes from; backup alone requires its connection. */
type Source =
  | { command: 'backup'; connection: Connection; database: string }
  | { command: Exclude<Command, 'backup'>; database: string };

function parseSource(command: Command, inputs: (name: string) => string): Source {
  if (command === 'backup') {
    const connection = parseConnectionInputs(inputs, SOURCE_CONNECTION);
    return { command, connection, database: connection.database };
  }
  // Given to another command, the connection inputs are still validated, and name the database.
  const connection =
    inputs('database-url') !== '' || inputs('host') !== ''
      ? parseConnectionInputs(inputs, SOURCE_CONNECTION)
      : undefined;
  const database = connection?.database ?? inputs('database');
  if (database === '') {
    throw new ConfigError(
      'database',
      `required for command ${command}: set the name of the source database whose backups to use.`,
    );
  }
  return { command, database };
}

/**
 * The inputs as the connection of a run over several databases reads them: `database` (`all` or a
 * list) is not the database to connect to. A URL names its own; host inputs connect to
 * {@link MAINTENANCE_DATABASE}. Other commands read no connection and need no name.
 */
function connectionOfSelection(inputs: Input): Input {
  const database =
    inputs('database-url') !== '' ? '' : inputs('host') !== '' ? MAINTENANCE_DATABASE : inputs('database');
  return (name) => (name === 'database' ? database : inputs(name));
}

/** What `prune` needs of the retention inputs: a policy (checked before the other inputs). */
function retentionPart(
  command: Command,
  retention: RetentionInputs,
): { command: 'prune'; policy: RetentionPolicy; dryRun: boolean } | { command: Exclude<Command, 'prune'> } {
  if (command !== 'prune') return { command };
  if (!retention.policy) throw new ConfigError('command', PRUNE_NEEDS_POLICY);
  return { command, policy: retention.policy, dryRun: retention.dryRun || !retention.prune };
}

/** `install-client` and `client-version`. */
function parseClient(input: Input): ClientConfig {
  const installClient = parseBoolean('install-client', input('install-client'));
  const clientVersion = input('client-version');
  if (clientVersion === 'auto') return { installClient };
  const clientMajor = parseInteger('client-version', clientVersion, {
    min: 9,
    max: 99,
    hint: "use 'auto' or a major version such as 17",
  });
  return { installClient, clientMajor };
}

type Input = (name: string) => string;

/** The source database's connection inputs. */
const SOURCE_CONNECTION: ConnectionInputNames = {
  url: 'database-url',
  host: 'host',
  port: 'port',
  username: 'username',
  password: 'password',
  database: 'database',
  sslmode: 'sslmode',
  separately: 'the separate connection inputs',
  purpose: 'back up',
  example: 'postgres://user:password@host:5432/dbname',
};

/** A multi-line list: one entry per line, blank lines ignored, surrounding spaces trimmed. */
function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

function parseDestinations(value: string): Destination[] {
  const entries = lines(value);
  if (entries.length === 0) {
    throw new ConfigError(
      'destination',
      'required; set s3://bucket/prefix or file:///absolute/folder (one per line for several).',
    );
  }
  const destinations = entries.map(parseDestination);
  const seen = new Set<string>();
  for (const d of destinations) {
    const id = d.kind === 's3' ? `s3://${d.bucket}/${d.prefix}` : `file://${d.root}`;
    if (seen.has(id)) throw new ConfigError('destination', `'${d.url}' is listed twice; list each destination once.`);
    seen.add(id);
  }
  return destinations;
}

function parseS3Settings(input: Input): S3Settings {
  const endpoint = parseS3Endpoint(input('s3-endpoint'));
  const region = input('s3-region');
  if (!/^([a-z]{2}(-[a-z0-9]+)+-\d+|auto|[a-z0-9-]+)$/.test(region)) {
    throw new ConfigError(
      's3-region',
      `'${region}' is not a region name; use e.g. us-east-1, or auto for Cloudflare R2.`,
    );
  }
  const pathStyle = input('s3-force-path-style');
  let forcePathStyle: boolean;
  if (pathStyle === 'auto') forcePathStyle = endpoint !== undefined;
  else forcePathStyle = parseBoolean('s3-force-path-style', pathStyle);
  const checksumInput = oneOf('s3-checksums', input('s3-checksums'), [
    'auto',
    'when_required',
    'when_supported',
  ] as const);
  const checksums =
    checksumInput === 'auto' ? (endpoint === undefined ? 'when_supported' : 'when_required') : checksumInput;

  const sseValue = input('s3-sse');
  let sse: S3Settings['sse'];
  if (sseValue !== '') sse = oneOf('s3-sse', input('s3-sse'), ['AES256', 'aws:kms'] as const);
  const sseKmsKeyId = input('s3-sse-kms-key-id');
  if (sseKmsKeyId !== '' && sse !== 'aws:kms') {
    throw new ConfigError(
      's3-sse-kms-key-id',
      'is only used with s3-sse: aws:kms; set s3-sse to aws:kms or remove the key id.',
    );
  }
  const storageClass = input('s3-storage-class');
  if (storageClass !== '' && !/^[A-Z_]+$/.test(storageClass)) {
    throw new ConfigError(
      's3-storage-class',
      `'${storageClass}' is not a storage class; use e.g. STANDARD, STANDARD_IA or GLACIER_IR.`,
    );
  }
  const timeoutSeconds = parseInteger('s3-timeout', input('s3-timeout'), {
    min: 1,
    max: 3600,
    hint: 'use whole seconds from 1 to 3600, e.g. 120',
  });
  const accessKeyId = input('s3-access-key-id');
  const secretAccessKey = input('s3-secret-access-key');
  const halfPair = keyPairError(accessKeyId, secretAccessKey);
  if (halfPair) throw halfPair;
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    region,
    forcePathStyle,
    ...(storageClass === '' ? {} : { storageClass }),
    ...(sse === undefined ? {} : { sse }),
    ...(sseKmsKeyId === '' ? {} : { sseKmsKeyId }),
    ...(accessKeyId === '' ? {} : { accessKeyId, secretAccessKey }),
    checksums,
    timeoutSeconds,
  };
}

const COMPRESSION_LEVELS: Record<Exclude<CompressionMethod, 'none'>, [number, number]> = {
  zstd: [1, 22],
  gzip: [1, 9],
  lz4: [1, 12],
};

/** `zstd`, `zstd:19`, `gzip:6`, `lz4`, `none`. */
export function parseCompression(value: string): Compression {
  const [method, level, ...rest] = value.split(':');
  const fail = (problem: string): never => {
    throw new ConfigError('compression', `${problem} Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none.`);
  };
  if (rest.length > 0 || method === undefined) return fail(`'${value}' is not a method[:level].`);
  if (method === 'none') {
    if (level !== undefined) fail("'none' takes no level.");
    return { method: 'none' };
  }
  if (!(method in COMPRESSION_LEVELS)) return fail(`'${method}' is not a compression method.`);
  const m = method as keyof typeof COMPRESSION_LEVELS;
  if (level === undefined) return { method: m };
  const [min, max] = COMPRESSION_LEVELS[m];
  if (!/^\d+$/.test(level) || Number(level) < min || Number(level) > max) {
    return fail(`level '${level}' is out of range for ${m} (${min}-${max}).`);
  }
  return { method: m, level: Number(level) };
}

function parseDumpOptions(input: Input, command: Command): DumpOptions {
  const format = oneOf('format', input('format'), ['custom', 'directory', 'plain'] as const);
  const jobs = parseInteger('jobs', input('jobs'), { min: 1, max: 64 });
  // For restore and drill, `jobs` is pg_restore's (validated by parseRestoreInputs).
  if (command === 'backup' && jobs > 1 && format !== 'directory') {
    throw new ConfigError(
      'jobs',
      `pg_dump runs parallel jobs only with the directory format; set format: directory, or jobs: 1.`,
    );
  }
  const schemaOnly = parseBoolean('schema-only', input('schema-only'));
  const dataOnly = parseBoolean('data-only', input('data-only'));
  if (schemaOnly && dataOnly) {
    throw new ConfigError('schema-only', 'schema-only and data-only are both true; set at most one of them.');
  }
  const extraArgs = lines(input('pg-dump-args'));
  const problem = checkExtraPgDumpArgs(extraArgs);
  if (problem !== undefined) throw new ConfigError('pg-dump-args', problem);
  return {
    format,
    compression: parseCompression(input('compression')),
    jobs,
    schemas: lines(input('schema')),
    excludeSchemas: lines(input('exclude-schema')),
    tables: lines(input('table')),
    excludeTables: lines(input('exclude-table')),
    excludeTableData: lines(input('exclude-table-data')),
    schemaOnly,
    dataOnly,
    noOwner: parseBoolean('no-owner', input('no-owner')),
    noPrivileges: parseBoolean('no-privileges', input('no-privileges')),
    globals: parseBoolean('globals', input('globals')),
    lockWaitTimeoutMs: parseLockWaitTimeout(input('lock-wait-timeout')),
    extraArgs,
  };
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
/** Longest accepted wait: a job of a GitHub-hosted runner stops after 6 hours anyway. */
const MAX_LOCK_WAIT_MS = 6 * 3_600_000;

/**
 * `lock-wait-timeout`: a whole number with a unit (`30s`, `5min`, `2m`, `1h`, `500ms`), or `0` to
 * wait forever. Returns milliseconds.
 * @throws ConfigError naming the input for anything else (a bare number, a fraction, over 6 h).
 */
export function parseLockWaitTimeout(value: string): number {
  const how = 'use a whole number with a unit, such as 30s, 5min or 1h (ms, s, m/min, h), or 0 to wait forever';
  if (value === '0') return 0;
  const m = /^(\d+)\s*(ms|s|min|m|h)$/.exec(value);
  if (!m) {
    throw new ConfigError(
      'lock-wait-timeout',
      /^\d+$/.test(value) ? `'${value}' has no unit; ${how}.` : `'${value}' is not a duration; ${how}.`,
    );
  }
  const ms = Number(m[1]) * (DURATION_UNITS_MS[m[2]!] as number);
  if (ms > MAX_LOCK_WAIT_MS)
    throw new ConfigError('lock-wait-timeout', `'${value}' is longer than 6h, the longest a job may run; ${how}.`);
  return ms;
}
