/**
 * The OpenPGP.js v6 settings every message is written with (https://docs.openpgpjs.org/), and how
 * its errors are quoted. The messages written are RFC 4880 messages (public-key or
 * passphrase-encrypted session key + SEIPD v1 with MDC) so that gpg 2.2 reads them. The key inputs
 * are parsed by config/openpgp-inputs.ts.
 */
import * as openpgp from 'openpgp';

export {
  type DecryptionConfig,
  type EncryptionConfig,
  type PassphraseDecryption,
  type PassphraseEncryption,
  type PrivateKeyDecryption,
  type PublicKeyEncryption,
} from './specs.js';
import { errorMessage } from '../errors.js';

export const WRITE_CONFIG = {
  aeadProtect: false,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed,
} as const;

/** An OpenPGP.js error message fit for a log: one line, short, no long base64 run. */
export function safeReason(error: unknown): string {
  const message = errorMessage(error).split('\n')[0] as string;
  return message
    .replace(/[A-Za-z0-9+/=]{24,}/g, '…')
    .replace(/\.$/, '')
    .slice(0, 200);
}
