/**
 * The files part of `command: backup` (docs/files.md): the selection checked before any work, then,
 * once the dump's archive is stored and verified, the files archive (files/archive.ts) streamed
 * through backup/object-stream.ts into every destination that holds the archive, verified, and
 * recorded for the manifest; what it stored is removed when no manifest is written.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';

import { removeUnfinished } from '../backup/unfinished.js';
import { streamObject, type StreamedObject } from '../backup/object-stream.js';
import { verifyArchive } from '../backup/verify.js';
import type { FilesSettings } from '../config/files.js';
import type { EncryptionConfig } from '../crypto/specs.js';
import type { GpgTool } from '../crypto/gpg.js';
import { errorMessage } from '../errors.js';
import { openFilesArchive } from '../files/archive.js';
import { bundledTapScript } from '../files/tap-script.js';
import { FilesSelectionError } from '../files/errors.js';
import { parseEntries, type FileSelection } from '../files/select.js';
import { selectFiles } from '../files/walk.js';
import { formatBytes } from '../format.js';
import type { Log } from '../log.js';
import type { FilesRecord } from '../manifest.js';
import type { Compression, CompressorsAvailable } from '../pipeline/compression.js';
import type { Claim } from '../storage/claim.js';
import { filesKey } from '../storage/keys.js';
import type { ObjectStore, UploadResult } from '../storage/types.js';

/**
 * Checks the `files` selection on the disk before anything is dumped or uploaded: an entry outside
 * `workspace` (absolute, or `..`) whose path (a glob's folder) does not exist is refused even with
 * `files-optional`; an entry that matches nothing is refused unless `files-optional`.
 * @throws FilesSelectionError (phase `config`) naming the entries.
 */
export async function checkFilesSelection(
  settings: FilesSettings,
  workspace: string,
  log: Log,
): Promise<FileSelection> {
  const root = path.resolve(workspace);
  const missing: string[] = [];
  for (const spec of parseEntries(settings.entries, root)) {
    const relative = path.relative(root, spec.base);
    const outside = relative.startsWith('..') || path.isAbsolute(relative);
    if (
      outside &&
      !(await lstat(spec.base).then(
        () => true,
        () => false,
      ))
    )
      missing.push(spec.entry);
  }
  if (missing.length > 0)
    throw new FilesSelectionError(
      `files: ${missing.map((e) => JSON.stringify(e)).join(', ')} ${missing.length === 1 ? 'is' : 'are'} outside the workspace (${root}) and ${missing.length === 1 ? 'does' : 'do'} not exist. ` +
        'Check the path, or copy the files into the workspace in an earlier step.',
      missing,
    );
  const selection = await selectFiles({ workspace: root, ...settings });
  log.info(
    `Files: ${selection.files} file(s), ${formatBytes(selection.bytes)}, ${selection.entries.length} entries to archive beside the database.`,
  );
  return selection;
}

/** What {@link storeFilesArchive} needs; `stores`, `archiveKeys` and `stored` share their index. */
export interface FilesStorePlan {
  settings: FilesSettings;
  workspace: string;
  compression: Compression;
  compressors: CompressorsAvailable;
  encryption: EncryptionConfig | undefined;
  stores: ObjectStore[];
  /** The dump's archive key in each store; the files archive goes beside it (filesKey). */
  archiveKeys: string[];
  /** Which stores hold the verified archive: only those get the files archive. */
  stored: boolean[];
  log: Log;
  tempDir: string;
  detectGpg(): Promise<GpgTool | undefined>;
  signal?: AbortSignal | undefined;
}

/** What this run stored of the files archive in each store, for {@link settleFilesArchive}. */
export interface FilesWritten {
  keys: string[];
  uploads: (UploadResult | undefined)[];
  claims: (Claim | undefined)[];
}

/** The outcome: the manifest's record, and per store an error where it failed (the destination then fails). */
export interface FilesStored {
  record: FilesRecord;
  errors: (string | undefined)[];
}

/**
 * Streams the files archive into every store that holds the verified archive and verifies each
 * stored object. `written` is filled as it goes, so a later failure removes what was stored.
 * @throws FilesSelectionError, FilesArchiveError (tar failed: the run fails), DumpError,
 *   EncryptError, UploadError (every store failed), as backup/object-stream.ts does.
 */
export async function storeFilesArchive(plan: FilesStorePlan, written: FilesWritten): Promise<FilesStored> {
  const { log } = plan;
  const method = plan.compression.method;
  const encrypted = plan.encryption !== undefined;
  const targets = plan.stores.map((_, i) => i).filter((i) => plan.stored[i]);
  const keys = plan.archiveKeys.map((k) => filesKey(k, { compression: method, encrypted }));
  written.keys = keys;
  const archive = await openFilesArchive({
    workspace: plan.workspace,
    ...plan.settings,
    log,
    socketDir: plan.tempDir,
    tapScript: bundledTapScript(),
  });
  log.info(
    `Files archive (${archive.engine}, fingerprinted by ${archive.fingerprintedBy}): ${archive.selection.files} file(s), ${formatBytes(archive.selection.bytes)}; streaming to ${targets.map((i) => `${plan.stores[i]?.destination.url} → ${keys[i]}`).join(', ')}.`,
  );
  const streamed = await streamObject({
    what: 'the files archive',
    source: archive.source,
    sourceDone: archive.done,
    compression: { ...plan.compression, compressors: plan.compressors },
    encryption: plan.encryption,
    stores: targets.map((i) => plan.stores[i] as ObjectStore),
    keys: targets.map((i) => keys[i] as string),
    contentType: encrypted ? 'application/pgp-encrypted' : 'application/x-tar',
    expectedBytes: archive.selection.bytes,
    log,
    tempDir: plan.tempDir,
    detectGpg: () => plan.detectGpg(),
    signal: plan.signal,
  });
  targets.forEach((storeIndex, i) => {
    const upload = streamed.uploads[i];
    written.uploads[storeIndex] = upload?.status === 'fulfilled' ? upload.value : undefined;
    written.claims[storeIndex] = streamed.claims[i];
  });
  const errors = await verifyFiles(plan, targets, keys, streamed);
  const listing = archive.listing();
  return {
    record: {
      key: keys[0] as string,
      bytes: streamed.measurement.bytes,
      sha256: streamed.measurement.sha256,
      compression: method,
      encrypted,
      fileCount: listing.files,
      totalBytes: listing.bytes,
      entries: listing.entries,
      listingFingerprint: listing.fingerprint,
      fingerprintVersion: 1,
      skipped: archive.selection.skipped.map((s) => s.path),
    },
    errors,
  };
}

/** Verifies each stored files archive (verifyArchive); an error per store where upload or verification failed. */
async function verifyFiles(
  plan: FilesStorePlan,
  targets: number[],
  keys: string[],
  streamed: StreamedObject,
): Promise<(string | undefined)[]> {
  const errors: (string | undefined)[] = plan.stores.map(() => undefined);
  for (const [i, storeIndex] of targets.entries()) {
    const store = plan.stores[storeIndex] as ObjectStore;
    const key = keys[storeIndex] as string;
    const upload = streamed.uploads[i];
    if (upload?.status !== 'fulfilled') {
      errors[storeIndex] = `the files archive ${key} could not be stored: ${errorMessage(upload?.reason)}`;
      plan.log.warning(`${store.destination.url}: ${errors[storeIndex]}`);
      continue;
    }
    try {
      await verifyArchive(store, key, streamed.measurement, upload.value.etag);
      plan.log.info(`${store.destination.url}: ${key} verified (${streamed.measurement.bytes} bytes).`);
    } catch (error) {
      errors[storeIndex] = errorMessage(error);
      plan.log.warning(errors[storeIndex]);
    }
  }
  return errors;
}

/**
 * At the end of the backup, failed or not: removes the files archive from each store whose
 * manifest was not written (removeUnfinished: only when provably this run's), then releases the
 * claims of the files keys. Never throws.
 */
export async function settleFilesArchive(
  stores: ObjectStore[],
  written: FilesWritten,
  manifests: boolean[],
  log: Log,
): Promise<void> {
  await Promise.all(
    stores.map(async (store, i) => {
      const key = written.keys[i];
      if (key === undefined) return;
      if (!manifests[i]) await removeUnfinished(store, key, written.uploads[i], false, log);
      const claim = written.claims[i];
      if (!claim) return;
      const left = manifests[i] ? undefined : await store.head(key).catch(() => ({}));
      // A files archive left without its manifest keeps its claim: the claim marks it as this action's.
      if (!left) await claim.release();
    }),
  );
}
