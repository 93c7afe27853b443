/**
 * The archive side of restore and drill: finding the backup and its manifest, what it takes to
 * open it (decryption, the globals file, a pg_restore of the archive's major or newer), and
 * streaming it into the target.
 */
import type { Duplex } from 'node:stream';
import { decryptionMismatch, type DecryptionConfig } from '../crypto/specs.js';
import { ClientInstallError, ConfigError } from '../errors.js';
import { formatBytes } from '../format.js';
import type { Manifest } from '../manifest.js';
import type { Connection } from '../postgres/types.js';
import { readCatalog, type BackupEntry } from '../storage/catalog.js';
import { ENCRYPTED_SUFFIX, globalsKey } from '../storage/keys.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import type { RestoreDeps } from './deps.js';
import type { BackupSelector } from './options.js';
import { readManifest, selectBackup, skippedForLatest, skippedWarning } from './select.js';
import type { PgRestoreOptions } from './args.js';
import { applyGlobals } from './globals.js';
import { streamRestore, type StreamOutcome } from './stream.js';

/** The chosen backup: its store, catalog entry and manifest. */
export interface ChosenBackup {
  store: ObjectStore;
  entry: BackupEntry;
  manifest: Manifest;
}

/**
 * Lists the first destination, picks the backup and reads its manifest.
 * @throws BackupNotFoundError, or the store's error when listing fails.
 */
export async function chooseBackup(
  source: { database: string; destinations: Destination[]; s3: S3Settings },
  selector: BackupSelector,
  deps: RestoreDeps,
): Promise<ChosenBackup> {
  const destination = source.destinations[0];
  if (!destination)
    throw new ConfigError(
      'destination',
      'required; set where the backups are, e.g. s3://bucket/prefix or file:///absolute/folder.',
    );
  if (source.destinations.length > 1) deps.log.info(`Reading backups from the first destination, ${destination.url}.`);
  const store = deps.createStore(destination, source.s3);
  const catalog = await readCatalog(store, source.database);
  const entry = selectBackup(catalog, selector, { database: source.database, url: destination.url });
  const skipped = skippedWarning(skippedForLatest(catalog, selector, entry), entry, destination.url);
  if (skipped) deps.log.warning(skipped);
  const manifest = await readManifest(store, entry);
  if (manifest.archive.key !== entry.key) {
    deps.log.warning(
      `The manifest names the archive ${manifest.archive.key} but it lies at ${entry.key} (copied or moved?); using ${entry.key} with the manifest's size and SHA-256.`,
    );
  }
  if (entry.size !== manifest.archive.bytes) {
    deps.log.warning(
      `The listing says ${entry.key} is ${entry.size} bytes but the manifest records ${manifest.archive.bytes}: the restore will stop at the digest check.`,
    );
  }
  deps.log.info(
    `Backup ${entry.key} (${destination.url}): ${manifest.format} format, ${formatBytes(manifest.archive.bytes)}, taken ${manifest.startedAt} from PostgreSQL ${manifest.server.version} by pg_dump ${manifest.client.pgDumpVersion}.`,
  );
  return { store, entry, manifest };
}

/**
 * pg_restore and psql of the archive's pg_dump major or newer (an older pg_restore refuses a newer
 * archive: "unsupported version … in file header").
 * @throws ClientInstallError.
 */
export async function restoreClient(
  deps: RestoreDeps,
  manifest: Manifest,
): Promise<{ binDir: string; version: string; major: number }> {
  const wanted = manifest.client.major;
  const found = await deps.ensureClient(wanted, 'pg_restore');
  if (found.warning) deps.log.warning(found.warning);
  if (found.pgDump.major < wanted) {
    throw new ClientInstallError(
      `The archive was written by pg_dump ${manifest.client.pgDumpVersion}; pg_restore ${found.pgDump.version} (${found.binDir}) cannot read it. Install postgresql-client-${wanted} (or newer), or set client-version to ${wanted} or more.`,
    );
  }
  deps.log.info(
    `Using pg_restore/psql ${found.pgDump.version} (${found.binDir}) for an archive of pg_dump ${manifest.client.pgDumpVersion}.`,
  );
  return { binDir: found.binDir, version: found.pgDump.version, major: found.pgDump.major };
}

/** True when the backup is encrypted (the manifest says so, or the key ends in `.gpg`). */
export function isEncrypted(manifest: Manifest, key: string): boolean {
  return Boolean(manifest.encryption) || key.endsWith(ENCRYPTED_SUFFIX);
}

/**
 * A factory of fresh decrypting stages for an encrypted backup (undefined when it is not
 * encrypted): `deps.decrypt` when given, else OpenPGP with `decryption`. Call it right after
 * choosing the backup, so a missing or wrong key fails before the target is touched.
 * @throws ConfigError('decryption-private-key' or 'decryption-passphrase') when the backup is
 *   encrypted and no decryption is configured, or the manifest shows it cannot open the archive
 *   ({@link decryptionMismatch}: wrong mode, or a private key that is none of the recipients).
 */
export async function decrypterFor(
  chosen: ChosenBackup,
  decryption: DecryptionConfig | undefined,
  deps: RestoreDeps,
): Promise<(() => Duplex) | undefined> {
  const { manifest, entry } = chosen;
  if (!isEncrypted(manifest, entry.key)) return undefined;
  const passphrase = manifest.encryption?.mode === 'passphrase';
  const input = passphrase ? 'decryption-passphrase' : 'decryption-private-key';
  const override = deps.decrypt;
  if (override) {
    return () => {
      const stage = override(manifest);
      if (!stage)
        throw new ConfigError(input, `the backup ${entry.key} is encrypted and no decryption stage was given for it.`);
      return stage;
    };
  }
  if (!decryption) {
    const recipients = manifest.encryption?.recipients.length ? `: ${manifest.encryption.recipients.join(', ')}` : '';
    const how = passphrase
      ? 'decryption-passphrase (the encryption-passphrase of the backup)'
      : `decryption-private-key (the private key of one of the recipients${recipients})`;
    throw new ConfigError(
      input,
      `the backup ${entry.key} is encrypted (OpenPGP${manifest.encryption ? `, ${manifest.encryption.mode}` : ''}); set ${how} from a secret to restore it.`,
    );
  }
  const mismatch = manifest.encryption ? decryptionMismatch(manifest.encryption, decryption) : undefined;
  if (mismatch)
    throw new ConfigError(
      decryption.mode === 'passphrase' ? 'decryption-passphrase' : 'decryption-private-key',
      `${mismatch} Nothing was touched.`,
    );
  // OpenPGP.js is loaded only for encrypted backups.
  const { createDecryptStage } = await import('../crypto/decrypt.js');
  return () => createDecryptStage(decryption);
}

/**
 * The globals file of the backup, for `restore-globals`.
 * @throws ConfigError('restore-globals') when the backup was taken without globals.
 */
export function requireGlobals(chosen: ChosenBackup): NonNullable<Manifest['globals']> {
  const globals = chosen.manifest.globals;
  if (!globals) {
    throw new ConfigError(
      'restore-globals',
      `the backup ${chosen.entry.key} has no globals file (it was taken with globals: false); set restore-globals: false, or choose a backup taken with globals: true.`,
    );
  }
  return globals;
}

/** What {@link restoreChosen} restores, where, and how. */
export interface RestorePlan {
  chosen: ChosenBackup;
  target: Connection;
  options: PgRestoreOptions & { restoreGlobals: boolean };
  /** pg_restore and psql, from {@link restoreClient}. */
  client: { binDir: string };
  /** From {@link decrypterFor}: undefined for an archive that is not encrypted. */
  decrypter: (() => Duplex) | undefined;
}

/** Applies globals (when asked) then streams the archive into `target` (decrypting with `decrypter`). */
export async function restoreChosen(
  plan: RestorePlan,
  deps: RestoreDeps,
): Promise<StreamOutcome & { globalsApplied: boolean }> {
  const { log } = deps;
  const { chosen, target, options, client, decrypter } = plan;
  const { manifest, entry, store } = chosen;
  if (decrypter)
    log.info(
      `${entry.key} is encrypted (OpenPGP${manifest.encryption ? `, ${manifest.encryption.mode}` : ''}): decrypting after the digest check.`,
    );
  let globalsApplied = false;
  if (options.restoreGlobals) {
    const globals = requireGlobals(chosen);
    await log.group('Globals', async () => {
      const applied = await applyGlobals({
        store,
        key: globalsKey(entry.key),
        expected: { bytes: globals.bytes, sha256: globals.sha256 },
        binDir: client.binDir,
        target,
        log,
        ...(decrypter ? { decrypt: decrypter() } : {}),
      });
      log.info(`Applied the globals (${applied.roles} role(s); existing roles kept and altered).`);
    });
    globalsApplied = true;
  }
  const compressors = await deps.detectCompressors();
  const outcome = await log.group('Download and restore', () =>
    streamRestore({
      store,
      key: entry.key,
      expected: { bytes: manifest.archive.bytes, sha256: manifest.archive.sha256 },
      format: manifest.format,
      binDir: client.binDir,
      target,
      options,
      compressors,
      tempDir: deps.tempDir,
      log,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(decrypter ? { decrypt: decrypter } : {}),
    }),
  );
  return { ...outcome, globalsApplied };
}
