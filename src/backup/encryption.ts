/** Encryption of a backup: gpg outside the process when it can, else OpenPGP.js inside it. */
import type { GpgEncrypter, GpgTool } from '../crypto/gpg.js';
import type { EncryptionConfig } from '../crypto/specs.js';
import type { Log } from '../log.js';
import type { CompressionPlan } from '../pipeline/compression.js';

/** What the search for gpg needs. */
export interface GpgSearch {
  log: Log;
  /** Finds the gpg command line (crypto/gpg.ts). */
  detectGpg(): Promise<GpgTool | undefined>;
  /** Folder for gpg's temporary home. */
  tempDir: string;
}

/**
 * The gpg encrypter when the archive is encrypted, gpg is there and its probe passes, and no stage
 * of the chain runs inside Node (gpg reads its input from another child);
 * else undefined, and OpenPGP.js encrypts in the process. Logs which one and why.
 */
export async function chooseGpg(
  encryption: EncryptionConfig | undefined,
  deps: GpgSearch,
  plan: CompressionPlan,
): Promise<GpgEncrypter | undefined> {
  if (!encryption) return undefined;
  const recipients =
    encryption.mode === 'public-key'
      ? `to ${encryption.recipients.length} public key${encryption.recipients.length === 1 ? '' : 's'}`
      : 'with a passphrase';
  const found = await gpgEncrypter(encryption, deps, plan);
  if (found.encrypter) {
    deps.log.info(
      `Encryption: AES-256 ${recipients}, by gpg ${found.tool.version} (${found.tool.path}) outside the action's process.`,
    );
    return found.encrypter;
  }
  const { openpgpVersion } = await import('../crypto/encrypt.js');
  deps.log.info(
    `Encryption: AES-256 ${recipients}, by OpenPGP.js ${openpgpVersion()} in the action's process: ${found.reason}.`,
  );
  return undefined;
}

/** {@link chooseGpg}'s search: the encrypter and its gpg, or why there is none. */
async function gpgEncrypter(
  encryption: EncryptionConfig,
  deps: GpgSearch,
  plan: CompressionPlan,
): Promise<{ encrypter: GpgEncrypter; tool: GpgTool } | { encrypter?: undefined; reason: string }> {
  if (plan.engine === 'node-zlib') return { reason: 'compression runs in the process (no zstd command line)' };
  const tool = await deps.detectGpg();
  if (!tool) return { reason: 'no gpg command line was found' };
  const { prepareGpgEncrypter } = await import('../crypto/gpg.js');
  const prepared = await prepareGpgEncrypter(tool, encryption, deps.tempDir);
  return prepared.encrypter ? { encrypter: prepared.encrypter, tool } : { reason: prepared.reason };
}

/** Encrypts a small buffer (the globals) with the same stage as the archive. */
export async function encryptBuffer(data: Buffer, encryption: EncryptionConfig): Promise<Buffer> {
  const { createEncryptStage } = await import('../crypto/encrypt.js');
  const { stream } = await createEncryptStage(encryption);
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  })();
  stream.end(data);
  await collected;
  return Buffer.concat(chunks);
}
