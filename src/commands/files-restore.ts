/**
 * The files archive of a backup (uploads and media beside the database) on the way back: fetched
 * from the first destination, its SHA-256 and size checked while streaming (the restore's
 * {@link DigestGate}), decrypted and decompressed with the restore's stages, and extracted safely
 * (files/extract.ts) — into `files-target` for a restore ({@link restoreFiles}), into a scratch
 * folder for the drill ({@link drillFiles}), which then compares it with the manifest's listing.
 * Documented in docs/files.md, "Restore and drill".
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ActionError, ConfigError, errorMessage, type Phase } from '../errors.js';
import { formatBytes, round3 } from '../format.js';
import { FilesTargetError, UnsafeArchiveError } from '../files/errors.js';
import { extractArchive, type ExtractResult } from '../files/extract.js';
import { compareListing, fingerprintFolder } from '../files/fingerprint.js';
import type { Check, FilesRecord, Manifest } from '../manifest.js';
import type { RestoreResult } from '../report/restore-report.js';
import { STREAM_HIGH_WATER_MARK } from '../pipeline/stages.js';
import type { ChosenBackup } from '../restore/archive.js';
import { createDecompressor } from '../restore/decompress.js';
import type { RestoreDeps } from '../restore/deps.js';
import { CorruptArchiveError, RestoreError } from '../restore/errors.js';
import type { FilesRestore } from '../restore/options.js';
import { DigestGate, stopStage, verifyStored } from '../restore/stages.js';
import type { CategoryResult } from '../restore/verify-content.js';

/** The files part of a backup, or undefined when it has none. */
export function filesRecord(manifest: Manifest): FilesRecord | undefined {
  return manifest.files ?? undefined;
}

/** Stream compression suffix of each `compression` of the files archive. */
const SUFFIX: Record<FilesRecord['compression'], '' | '.zst' | '.lz4' | '.gz'> = {
  zstd: '.zst',
  lz4: '.lz4',
  gzip: '.gz',
  none: '',
};

/** What one extraction of the stored files archive did. */
export interface FilesExtraction extends ExtractResult {
  /** The folder written into (absolute). */
  folder: string;
  /** Stored bytes read and verified against the manifest. */
  storedBytes: number;
  seconds: number;
}

/** How to open the files archive of `chosen`. */
export interface FilesSource {
  chosen: ChosenBackup;
  record: FilesRecord;
  /** From `decrypterFor`: a fresh decrypting stage (the files archive is encrypted like the dump). */
  decrypter: (() => Duplex) | undefined;
}

/**
 * Streams the stored files archive into `folder`: store → SHA-256/size gate (the last chunk held
 * back until the digest matched, so a damaged archive never completes) → decrypt → decompress →
 * extract. Entries extracted before a failure stay in `folder`; nothing is written outside it.
 * @throws CorruptArchiveError (digest or size mismatch, naming the key), UnsafeArchiveError,
 *   FilesTargetError (a file, or non-empty without `overwrite`), FilesArchiveError (damaged tar),
 *   RestoreError (the archive could not be read, decrypted or decompressed), ConfigError
 *   (an encrypted archive and no decryption).
 */
export async function extractStoredFiles(
  source: FilesSource,
  where: { folder: string; overwrite: boolean; phase: Phase },
  deps: RestoreDeps,
): Promise<FilesExtraction> {
  const { chosen, record, decrypter } = source;
  const { store } = chosen;
  const started = Date.now();
  if (record.encrypted && !decrypter)
    throw new ConfigError(
      'decryption-private-key',
      `the files archive ${record.key} is encrypted; set the decryption input that opens the database archive.`,
    );
  const decompressor = createDecompressor(SUFFIX[record.compression], await deps.detectCompressors());
  const child = decompressor?.kind === 'child' ? decompressor.child : undefined;
  const gate = new DigestGate(
    { bytes: record.bytes, sha256: record.sha256 },
    record.key,
    store.destination.url,
    () => child && stopStage(child),
  );
  const stages: Duplex[] = [gate];
  if (record.encrypted && decrypter) stages.push(decrypter());
  if (decompressor?.stream) stages.push(decompressor.stream);
  const tar = new PassThrough({ highWaterMark: STREAM_HIGH_WATER_MARK });
  let streamError: unknown;
  let flowing: Promise<void> = Promise.resolve();
  let result: ExtractResult;
  try {
    const stored: Readable = await store.get(record.key).catch((error: unknown) => {
      throw new RestoreError(
        `Reading the files archive ${record.key} from ${store.destination.url} failed: ${errorMessage(error)}`,
        { cause: error },
      );
    });
    flowing = pipeline([stored, ...stages, tar]).catch((error: unknown) => {
      streamError ??= error;
    });
    result = await extractArchive(tar, {
      target: where.folder,
      overwrite: where.overwrite,
      phase: where.phase,
      onSkipped: (entry, type) => deps.log.warning(`files: ${entry} (${type}) is not a file, folder or link; skipped.`),
    });
    await flowing;
    if (child) await child.done;
  } catch (error) {
    tar.destroy();
    if (child) stopStage(child);
    await flowing;
    // The stream's own failure (a digest mismatch, a decrypt error) says more than the extractor's
    // "unexpected end" it causes.
    if (!isStreamCause(error)) throw error;
    throw await streamFailure(source, gate, streamError ?? error);
  }
  if (streamError !== undefined) throw await streamFailure(source, gate, streamError);
  return {
    ...result,
    folder: path.resolve(where.folder),
    storedBytes: gate.bytes,
    seconds: round3((Date.now() - started) / 1000),
  };
}

/**
 * The error of a stream that broke: the digest gate's mismatch when it saw one; else, when the
 * gate had not reached the end (a decompressor or decryption choked first), the stored object is
 * hashed again so that corruption is reported as such; else the error itself (this action's own
 * as it is, anything else as a RestoreError naming the key).
 */
async function streamFailure(source: FilesSource, gate: DigestGate, error: unknown): Promise<Error> {
  if (gate.error) return gate.error;
  const { record, chosen } = source;
  if (gate.verdict === 'pending') {
    const expected = { bytes: record.bytes, sha256: record.sha256 };
    const stored = await verifyStored(chosen.store, record.key, expected, chosen.store.destination.url);
    if (stored instanceof CorruptArchiveError) return stored;
  }
  if (error instanceof ActionError) return error;
  return new RestoreError(`The files archive ${record.key} could not be read to its end: ${errorMessage(error)}`, {
    cause: error,
  });
}

/** An extraction error that follows from the stream breaking, not from the archive's entries. */
function isStreamCause(error: unknown): boolean {
  return !(error instanceof UnsafeArchiveError || error instanceof FilesTargetError);
}

/** What a restore of the files did (for the log and the summary). */
export interface FilesRestoreResult extends FilesExtraction {
  key: string;
}

/**
 * The files part of `chosen`, or the error of a restore that asks for it and the backup lacks.
 * @throws ConfigError('files-target') when the backup has no files part.
 */
export function requireFiles(chosen: ChosenBackup): FilesRecord {
  const record = filesRecord(chosen.manifest);
  if (!record) {
    throw new ConfigError(
      'files-target',
      `the backup ${chosen.entry.key} has no files archive (it was taken without files); remove files-target (and files-only), or choose a backup taken with files.`,
    );
  }
  return record;
}

/** A restore's files settings with the backup's files part, checked by {@link filesPlan}. */
export interface FilesPlan extends FilesRestore {
  record: FilesRecord;
}

/**
 * Checks, before the database is touched, that the backup has a files part and that
 * `files.folder` may be written: missing (created later), empty, or `overwrite`.
 * @throws ConfigError('files-target') for a backup without files, a target that is not a folder
 *   or is not empty (without files-overwrite).
 */
export async function filesPlan(chosen: ChosenBackup, files: FilesRestore): Promise<FilesPlan> {
  const record = requireFiles(chosen);
  const found = await stat(files.folder).catch(() => undefined);
  if (found && !found.isDirectory())
    throw new ConfigError('files-target', `${files.folder} is not a folder; give a folder to restore the files into.`);
  if (found && !files.overwrite && (await readdir(files.folder)).length > 0) {
    throw new ConfigError(
      'files-target',
      `${files.folder} is not empty; give an empty or new folder, or set files-overwrite: true to extract over what is there (files of the same name are replaced). Nothing was restored.`,
    );
  }
  return { ...files, record };
}

/**
 * `files-only`: restores the files archive alone; the database is not touched.
 * @throws the errors of {@link extractStoredFiles}.
 */
export async function restoreFilesOnly(
  chosen: ChosenBackup,
  files: FilesPlan,
  decrypter: (() => Duplex) | undefined,
  deps: RestoreDeps,
): Promise<RestoreResult> {
  const restored = await restoreFiles({ chosen, record: files.record, decrypter }, files, deps);
  return {
    key: chosen.entry.key,
    url: chosen.store.destination.url,
    manifest: chosen.manifest,
    target: { host: '', port: 0, database: '' },
    createdDatabase: false,
    globalsApplied: false,
    restoreSeconds: restored.seconds,
    throughput: restored.storedBytes / Math.max(restored.seconds, 0.001),
    mode: 'none',
    pgRestoreVersion: '',
    files: restored,
    filesOnly: true,
  };
}

/**
 * Restores the files archive of `chosen` into `files.folder` (command `restore` with
 * `files-target`). Call {@link requireFiles} before touching anything else.
 * @throws the errors of {@link extractStoredFiles}.
 */
export async function restoreFiles(
  source: FilesSource,
  files: FilesRestore,
  deps: RestoreDeps,
): Promise<FilesRestoreResult> {
  const { record } = source;
  return deps.log.group('Files', async () => {
    deps.log.info(
      `Restoring the files archive ${record.key} (${formatBytes(record.bytes)}; ${record.fileCount} files, ${formatBytes(record.totalBytes)}) into ${files.folder}${files.overwrite ? ' (files-overwrite)' : ''}.`,
    );
    const done = await extractStoredFiles(
      source,
      { folder: files.folder, overwrite: files.overwrite, phase: 'restore' },
      deps,
    );
    deps.log.info(
      `Restored ${done.files} files (${formatBytes(done.bytes)}), ${done.entries} entries, into ${done.folder} in ${done.seconds} s; SHA-256 of ${record.key} matches the manifest.`,
    );
    return { ...done, key: record.key };
  });
}

/**
 * The drill's `files` category: extracts the files archive into a scratch folder under
 * `deps.tempDir`, fingerprints it (files/fingerprint.ts) and compares file count, bytes and the
 * listing fingerprint with the manifest; the scratch folder is removed (also after a failure).
 * Undefined for a backup without files.
 * @throws the errors of {@link extractStoredFiles} (phase `drill`): an archive that cannot be
 *   extracted fails the drill with its own error.
 */
export async function drillFiles(
  chosen: ChosenBackup,
  decrypter: (() => Duplex) | undefined,
  deps: RestoreDeps,
): Promise<CategoryResult | undefined> {
  const record = filesRecord(chosen.manifest);
  if (!record) return undefined;
  return deps.log.group('Files', async () => {
    const scratch = await mkdtemp(path.join(deps.tempDir, 'files-drill-'));
    try {
      const folder = path.join(scratch, 'files');
      await extractStoredFiles({ chosen, record, decrypter }, { folder, overwrite: false, phase: 'drill' }, deps);
      const found = await fingerprintFolder(folder);
      const recorded = { fingerprint: record.listingFingerprint, files: record.fileCount, bytes: record.totalBytes };
      const problems = compareListing(recorded, found);
      for (const problem of problems) deps.log.warning(`files: ${problem}.`);
      const checks: Check[] = [
        {
          name: 'files: file count',
          expected: record.fileCount,
          actual: found.files,
          passed: found.files === record.fileCount,
        },
        {
          name: 'files: bytes',
          expected: record.totalBytes,
          actual: found.bytes,
          passed: found.bytes === record.totalBytes,
        },
        {
          name: 'files: listing fingerprint',
          expected: record.listingFingerprint,
          actual: found.fingerprint,
          passed: found.fingerprint === record.listingFingerprint,
          ...(found.fingerprint === record.listingFingerprint
            ? {}
            : { note: 'a path, type, size, link target or file content differs' }),
        },
      ];
      return { name: 'files', checks, proven: `${found.files} files, fingerprint identical` };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
}
