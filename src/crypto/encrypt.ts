import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as openpgp from 'openpgp';
import { ActionError, EncryptError } from '../errors.js';
import { WRITE_CONFIG, safeReason, type EncryptionConfig } from './openpgp-settings.js';
import { WebStreamStage } from './web-stream.js';

/** What the manifest records about the encryption; never key material. */
export interface EncryptionInfo {
  /** The session key's cipher (always AES-256, RFC 4880 §9.2 id 9). */
  algorithm: 'AES-256';
  mode: 'public-key' | 'passphrase';
  /** Primary-key fingerprints of the recipients, hex upper-case; [] in passphrase mode. */
  recipients: string[];
  /**
   * What wrote the message: `gpg` (the command line, outside the action's process, when its probe
   * passed; gpg.ts) or `openpgp.js` (in the process). Both write the same packets.
   */
  engine: 'gpg' | 'openpgp.js';
  /** That program's version, e.g. `2.2.40` or `6.3.2`. */
  engineVersion: string;
}

/** The bundled OpenPGP.js version (`OpenPGP.js 6.3.2` → `6.3.2`). */
export function openpgpVersion(): string {
  return openpgp.config.versionString.replace(/^OpenPGP\.js v?/, '');
}

/**
 * The encryption stage of the backup stream: archive bytes in, a binary OpenPGP message out.
 *
 * The message (RFC 4880 §11.3) is: one Public-Key Encrypted Session Key packet (§5.1, v3) per
 * recipient, or one Symmetric-Key Encrypted Session Key packet (§5.3, v4, iterated+salted S2K
 * SHA-256, §3.7.1.3) for a passphrase; then a Symmetrically Encrypted Integrity Protected Data
 * packet (§5.13, version 1: AES-256 in CFB mode with an SHA-1 Modification Detection Code) holding
 * one binary Literal Data packet (§5.9), written with partial body lengths (§4.2.2.4) as the data
 * streams. No AEAD (SEIPD v2, RFC 9580 §5.13.2), which gpg 2.2 cannot read, and no Compressed Data
 * packet: the archive is compressed upstream. `gpg --decrypt` reads it.
 *
 * The session key is 32 random bytes from Node's CSPRNG with the cipher fixed to AES-256 whatever
 * the recipients' preferences (the inputs check that AES-256 is among them when they state any),
 * which also keeps a key that advertises SEIPD v2 from switching the message to AEAD.
 *
 * Memory is bounded: the Duplex has 1 MiB buffers each side and OpenPGP.js (v6, Web Streams,
 * https://docs.openpgpjs.org/#streaming-support) encrypts chunk by chunk. Place it after the
 * compressor and before the Meter, so the manifest's sha256/bytes are those of the stored
 * ciphertext: dump → compress → encrypt → hash → upload.
 *
 * @returns the Duplex and what to record in the manifest. The Duplex errors with an
 *   {@link EncryptError}; the consumer must treat that as a failed backup.
 * @throws EncryptError when OpenPGP.js refuses the keys (e.g. a key that expired since parsing).
 */
export async function createEncryptStage(config: EncryptionConfig): Promise<{ stream: Duplex; info: EncryptionInfo }> {
  const sessionKey = { data: new Uint8Array(randomBytes(32)), algorithm: 'aes256' as const };
  const stage = new WebStreamStage(
    async (input) => {
      const message = await openpgp.createMessage({ binary: input, format: 'binary' });
      // Untyped: openpgp's stream types come from the optional peer @openpgp/web-stream-tools.
      const encrypted: unknown = await openpgp.encrypt({
        message,
        ...(config.mode === 'public-key' ? { encryptionKeys: config.keys } : { passwords: [config.passphrase] }),
        sessionKey,
        format: 'binary',
        config: WRITE_CONFIG,
      });
      return encrypted as ReadableStream<Uint8Array>;
    },
    (error) =>
      error instanceof ActionError
        ? error
        : new EncryptError(`OpenPGP encryption of the archive failed: ${safeReason(error)}`, { cause: error }),
  );
  await stage.ready;
  return {
    stream: stage,
    info: {
      algorithm: 'AES-256',
      mode: config.mode,
      recipients: config.mode === 'public-key' ? [...config.recipients] : [],
      engine: 'openpgp.js',
      engineVersion: openpgpVersion(),
    },
  };
}
