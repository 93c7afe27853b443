import type { EncryptionInfo } from './crypto/openpgp.js';
import type { CompressionPlan } from './pipeline/compression.js';
import type { DatabaseProperties } from './postgres/database-properties.js';
import type {
  CatalogState,
  FingerprintAlgorithm,
  LargeObjectsContent,
  SequenceBounds,
  TableContent,
} from './postgres/fingerprint.js';
import type { CatalogCounts, TableRowCount } from './postgres/inspect.js';
import type { DumpFormat, DumpOptions } from './postgres/types.js';
import { ENCRYPTED_SUFFIX } from './storage/keys.js';

/**
 * Version of the manifest schema below that this action writes; bumped on incompatible changes.
 * 1: the first release; 2: adds `content` (what the drill proves beyond row counts).
 */
export const MANIFEST_FORMAT_VERSION = 2;

/** Versions this action reads: a version-1 manifest has no `content`, its drill checks what it recorded. */
export type ManifestFormatVersion = 1 | 2;

/**
 * What is wrong with a manifest's `formatVersion` for this action, or undefined when it reads it.
 * Versions this action knows: 1 and {@link MANIFEST_FORMAT_VERSION}. A higher whole number was
 * written by a newer action; anything else is not a manifest of this action (or a damaged one).
 */
export function formatVersionProblem(version: unknown): string | undefined {
  if (version === 1 || version === MANIFEST_FORMAT_VERSION) return undefined;
  if (typeof version === 'number' && Number.isInteger(version) && version > MANIFEST_FORMAT_VERSION) {
    return `has format version ${version}; this version of the action reads versions 1 to ${MANIFEST_FORMAT_VERSION}. Use the action version that wrote it.`;
  }
  if (version === undefined) return `has no formatVersion; it was not written by this action, or it is damaged.`;
  return `has format version ${JSON.stringify(version)}, which no version of this action writes (it writes ${MANIFEST_FORMAT_VERSION}); it is damaged.`;
}

/**
 * The JSON written at `<archive key>.manifest.json` once the archive is stored and verified: the
 * contract restores and drills check against. Documented in docs/manifest.md.
 */
export interface Manifest {
  formatVersion: ManifestFormatVersion;
  tool: { name: 'postgres-backup-action'; version: string };
  database: string;
  label: string | null;
  server: { version: string; versionNum: number; major: number };
  client: { pgDumpVersion: string; major: number };
  format: DumpFormat;
  compression: { method: string; level: number | null; where: CompressionPlan['where']; engine: string | null };
  /** OpenPGP encryption of the archive (applied after compression); null when not encrypted. Never key material. */
  encryption: EncryptionInfo | null;
  /** The dump options that shape what the archive holds. */
  options: Omit<DumpOptions, 'format' | 'compression'>;
  /** ISO 8601 UTC. */
  startedAt: string;
  finishedAt: string;
  /** Wall time from connect to verified archive, seconds. */
  durationSeconds: number;
  archive: { key: string; bytes: number; sha256: string; contentType: string };
  globals: { key: string; bytes: number; sha256: string } | null;
  /** Size of the database on the server (pg_database_size), bytes. */
  databaseSizeBytes: number;
  /** Identifier of the exported snapshot the dump and the counts were taken in. */
  snapshot: string;
  /** Row count of each table (partitions individually), taken in the dump's snapshot. */
  rowCounts: { mode: 'exact' | 'estimate'; tables: TableRowCount[] };
  objects: CatalogCounts;
  /**
   * What the drill compares beyond counts, taken in the dump's snapshot (version 2; absent in
   * version 1). With `verify: counts`, `tables` is null and large objects are not read.
   */
  content?: ContentRecord | null;
  /**
   * The database's own properties (encoding, locales, owner, comment, settings, ACL, per-role
   * settings), read at backup; absent in manifests of older versions (a restore then creates a
   * bare database).
   */
  databaseProperties?: DatabaseProperties;
  /**
   * The files archive stored beside the archive (`files` input, docs/files.md); absent when the
   * backup has no files part. A backup whose files archive failed has no manifest at all.
   */
  files?: FilesRecord;
}

/** The manifest's `files` (docs/manifest.md, "files"). */
export interface FilesRecord {
  /** This destination's key of the files archive (storage/keys.ts filesKey). */
  key: string;
  /** Stored object size (after compression and encryption), bytes. */
  bytes: number;
  /** SHA-256 (hex) of the stored object. */
  sha256: string;
  /** Stream compression of the files archive: the `compression` input's method. */
  compression: 'zstd' | 'lz4' | 'gzip' | 'none';
  encrypted: boolean;
  /** Regular files, and the sum of their sizes (bytes). */
  fileCount: number;
  totalBytes: number;
  /** Files, folders and links in the listing. */
  entries: number;
  /** The listing fingerprint (sha256 hex, fingerprint version 1; files/fingerprint.ts). */
  listingFingerprint: string;
  fingerprintVersion: 1;
  /** Special files (fifo, socket, device) skipped, by path in the archive. */
  skipped: string[];
}

/**
 * The content record (docs/manifest.md, "content"): fingerprints and states, all taken in the
 * dump's snapshot except sequences (not transactional: read right before pg_dump started and
 * right after it ended).
 */
export interface ContentRecord extends CatalogState {
  /** How fingerprints were computed (postgres/fingerprint.ts); the drill recomputes with the same. */
  algorithm: FingerprintAlgorithm;
  /** The session settings the row text was produced under (name → value). */
  settings: Record<string, string>;
  /** Per table: exact rows and fingerprint, in one scan; null with `verify: counts` or `row-counts: estimate`. */
  tables: TableContent[] | null;
  sequences: SequenceBounds[];
  largeObjects: LargeObjectsContent;
}

/** MIME type of an archive by extension. */
export function archiveContentType(extension: string): string {
  if (extension.endsWith(ENCRYPTED_SUFFIX)) return 'application/pgp-encrypted';
  if (extension.endsWith('.zst')) return 'application/zstd';
  if (extension.endsWith('.lz4')) return 'application/x-lz4';
  if (extension.endsWith('.gz')) return 'application/gzip';
  if (extension === 'sql') return 'application/sql';
  if (extension === 'tar') return 'application/x-tar';
  return 'application/octet-stream';
}

/**
 * One line of a verdict against what a backup recorded: a drill's check of the restored database,
 * or a `check` of the stored backup. `expected`/`actual` are numbers (counts) or short texts.
 */
export interface Check {
  name: string;
  expected: string | number;
  actual: string | number;
  passed: boolean;
  /** Why a check is weaker than usual (e.g. "data excluded by exclude-table-data"). */
  note?: string;
}
