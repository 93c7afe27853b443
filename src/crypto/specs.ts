/**
 * The parts of the encryption module that need no OpenPGP implementation: the config types, the
 * armored blocks of a text and the mismatch checks. Importing these does not load openpgp, which
 * the bundle then loads only when encryption or decryption inputs are set.
 */
import type { PrivateKey, PublicKey } from 'openpgp';

/**
 * The OpenPGP.js settings for every message this action writes: no AEAD (SEIPD v1 with MDC, RFC
 * 4880 §5.13, which gpg 2.2 reads; SEIPD v2 / RFC 9580 §5.13.2 it does not), AES-256, and no
 * compression packet (the archive is compressed upstream; RFC 4880 §5.6 is optional).
 */
export interface PublicKeyEncryption {
  mode: 'public-key';
  /** The recipients' keys, validated for encryption now (v4, not expired or revoked, encryption-capable). */
  keys: PublicKey[];
  /** The recipients' primary-key fingerprints, hex upper-case, in input order (no duplicates). */
  recipients: string[];
}

/** Encrypt with a passphrase (RFC 4880 §5.3 SKESK, iterated+salted S2K §3.7.1.3). */
export interface PassphraseEncryption {
  mode: 'passphrase';
  passphrase: string;
}

/** What parseEncryptionInputs (config/openpgp-inputs.ts) returns; holds key material and secrets: never log it. */
export type EncryptionConfig = PublicKeyEncryption | PassphraseEncryption;

/** Decrypt with private keys (unlocked in memory). */
export interface PrivateKeyDecryption {
  mode: 'private-key';
  /** Unlocked private keys. */
  keys: PrivateKey[];
  /** Their primary-key fingerprints, hex upper-case. */
  fingerprints: string[];
}

/** Decrypt with a passphrase. */
export interface PassphraseDecryption {
  mode: 'passphrase';
  passphrase: string;
}

/** What parseDecryptionInputs (config/openpgp-inputs.ts) returns; holds key material and secrets: never log it. */
export type DecryptionConfig = PrivateKeyDecryption | PassphraseDecryption;

export interface ArmoredBlock {
  /** The armor type after `-----BEGIN PGP `: PUBLIC KEY BLOCK, PRIVATE KEY BLOCK, MESSAGE, … */
  type: string;
  /** The block, BEGIN and END lines included. */
  text: string;
}

/** Every complete `-----BEGIN PGP X----- … -----END PGP X-----` block (RFC 4880 §6.2) in a text. */
export function armoredBlocks(text: string): ArmoredBlock[] {
  const blocks: ArmoredBlock[] = [];
  for (const match of text.matchAll(/-----BEGIN PGP ([A-Z0-9 ,/]+)-----[\s\S]*?-----END PGP \1-----/g)) {
    blocks.push({ type: match[1] as string, text: match[0] });
  }
  return blocks;
}

/**
 * What to set when an archive's encryption mode (`passphrase`, or `public-key` to `recipients`) is
 * not the one of the decryption input given: the one text of the manifest check
 * ({@link decryptionMismatch}) and of the packet check when decrypting (decrypt.ts).
 */
export function modeMismatchMessage(archiveMode: 'public-key' | 'passphrase', recipients: string[]): string {
  return archiveMode === 'passphrase'
    ? 'the archive was encrypted with a passphrase, not to public keys; set decryption-passphrase to its encryption-passphrase (and unset decryption-private-key).'
    : `the archive was encrypted to public key(s) ${recipients.join(', ') || '(not recorded)'}, not with a passphrase; set decryption-private-key to the private key of one of them (and unset decryption-passphrase).`;
}

/**
 * Why `decryption` cannot open an archive whose manifest records `encryption`, judged from the
 * manifest alone (before the target database is touched); undefined when it may. The archive's own
 * packets are checked again while decrypting. Mismatches: a passphrase for an archive encrypted to
 * public keys and the reverse; private keys none of whose primary-key fingerprints is among the
 * manifest's recipients (an empty recipient list is not judged).
 */
export function decryptionMismatch(
  encryption: { mode: 'public-key' | 'passphrase'; recipients: string[] },
  decryption: DecryptionConfig,
): string | undefined {
  if (encryption.mode === 'passphrase')
    return decryption.mode === 'passphrase' ? undefined : modeMismatchMessage('passphrase', []);
  if (decryption.mode === 'passphrase') return modeMismatchMessage('public-key', encryption.recipients);
  if (encryption.recipients.length === 0 || decryption.fingerprints.some((f) => encryption.recipients.includes(f)))
    return undefined;
  return `the archive was encrypted to ${encryption.recipients.join(', ')} (its manifest), and the key given (${decryption.fingerprints.join(', ')}) is none of them; set decryption-private-key to the private key of one of the recipients (\`gpg --armor --export-secret-keys <fingerprint>\`).`;
}
