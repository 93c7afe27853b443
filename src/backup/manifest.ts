/** The manifest of a backup, assembled from what its phases found (its schema: manifest.ts). */
import { round3 } from '../format.js';
import { MANIFEST_FORMAT_VERSION, type Manifest } from '../manifest.js';
import type { CompressionPlan } from '../pipeline/compression.js';
import type { ServerInfo } from '../postgres/inspect.js';
import type { ClientTool, DumpOptions } from '../postgres/types.js';
import { filesKey, globalsKey } from '../storage/keys.js';
import type { Streamed } from './dump-stream.js';

/** The parts of a manifest, gathered over the backup. */
export interface ManifestParts {
  /** This action's version. */
  version: string;
  database: string;
  label: string | undefined;
  server: ServerInfo;
  pgDump: ClientTool;
  dump: DumpOptions;
  compression: CompressionPlan;
  streamed: Streamed;
  rowCountMode: Manifest['rowCounts']['mode'];
  /** The first destination's archive key. */
  key: string;
  contentType: string;
  globals: Manifest['globals'];
  /** The files archive's record (first destination's key); absent: no files part. */
  files?: NonNullable<Manifest['files']>;
  /** The database's own properties; absent: not recorded. */
  databaseProperties?: NonNullable<Manifest['databaseProperties']>;
  started: Date;
  finished: Date;
}

/** The manifest of the first destination ({@link manifestText} gives each its own keys). */
export function buildManifest(parts: ManifestParts): Manifest {
  const { dump, compression: plan, server, streamed, started, finished } = parts;
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    tool: { name: 'postgres-backup-action', version: parts.version },
    database: parts.database,
    label: parts.label ?? null,
    server: { version: server.version.split(' ')[0] as string, versionNum: server.versionNum, major: server.major },
    client: { pgDumpVersion: parts.pgDump.version, major: parts.pgDump.major },
    format: dump.format,
    compression: {
      method: plan.method,
      level: plan.level ?? null,
      where: plan.where,
      engine: plan.engine ?? (plan.where === 'pg_dump' ? 'pg_dump' : null),
    },
    encryption: streamed.encryption,
    options: {
      jobs: dump.jobs,
      schemas: dump.schemas,
      excludeSchemas: dump.excludeSchemas,
      tables: dump.tables,
      excludeTables: dump.excludeTables,
      excludeTableData: dump.excludeTableData,
      schemaOnly: dump.schemaOnly,
      dataOnly: dump.dataOnly,
      noOwner: dump.noOwner,
      noPrivileges: dump.noPrivileges,
      globals: dump.globals,
      extraArgs: dump.extraArgs,
    },
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: round3((finished.getTime() - started.getTime()) / 1000),
    archive: {
      key: parts.key,
      bytes: streamed.measurement.bytes,
      sha256: streamed.measurement.sha256,
      contentType: parts.contentType,
    },
    globals: parts.globals,
    databaseSizeBytes: server.databaseSizeBytes,
    snapshot: streamed.snapshot,
    rowCounts: { mode: parts.rowCountMode, tables: streamed.rowCounts },
    objects: streamed.catalogCounts,
    content: streamed.content,
    ...(parts.databaseProperties ? { databaseProperties: parts.databaseProperties } : {}),
    ...(parts.files ? { files: parts.files } : {}),
  };
}

/** The JSON stored beside the archive `key` in one destination: the manifest with that destination's keys. */
export function manifestText(manifest: Manifest, key: string): string {
  const own: Manifest = {
    ...manifest,
    archive: { ...manifest.archive, key },
    globals: manifest.globals ? { ...manifest.globals, key: globalsKey(key) } : null,
    ...(manifest.files ? { files: { ...manifest.files, key: filesKey(key, manifest.files) } } : {}),
  };
  return `${JSON.stringify(own, null, 2)}\n`;
}
