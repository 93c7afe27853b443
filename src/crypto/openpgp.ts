/**
 * Client-side OpenPGP encryption of archives (OpenPGP.js v6, https://docs.openpgpjs.org/):
 * the inputs, the encryption stage of the backup stream, and the decryption stage of restores.
 * See docs/encryption.md.
 */
export {
  type DecryptionConfig,
  type EncryptionConfig,
  type PassphraseDecryption,
  type PassphraseEncryption,
  type PrivateKeyDecryption,
  type PublicKeyEncryption,
} from './openpgp-settings.js';
export { createEncryptStage, type EncryptionInfo } from './encrypt.js';
export { EncryptError } from '../errors.js';
export { createDecryptStage, DecryptError } from './decrypt.js';
