/**
 * The encryption and decryption inputs: parsing and validation before any work starts. Keys are
 * read with OpenPGP.js v6 (https://openpgpjs.org/, https://docs.openpgpjs.org/); archives are
 * RFC 4880 messages that gpg 2.2 reads, so keys must suit them. Loads openpgp: import it
 * dynamically, only when a key or passphrase is given.
 */
import * as openpgp from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { safeReason } from '../crypto/openpgp-settings.js';
import { armoredBlocks, type ArmoredBlock, type DecryptionConfig, type EncryptionConfig } from '../crypto/specs.js';
import { ConfigError } from '../errors.js';
import type { InputReader } from './reader.js';

/**
 * Reads `encryption-public-key` / `encryption-passphrase` and validates them before any work.
 *
 * Each armored block of `encryption-public-key` is read (RFC 4880 §6.2 armor; one block may hold
 * several keys; https://docs.openpgpjs.org/global.html#readKeys); every key must be a public v4
 * key, not expired or revoked at `now`, with an encryption-capable key or subkey (key flags
 * 0x04/0x08, RFC 4880 §5.2.3.21) that is not X25519/X448 (RFC 9580 §5.5.5.7-8, unknown to gpg
 * 2.2), RSA ≥ 2047 bits (OpenPGP.js `minRSABits`), and, when it states cipher preferences
 * (§5.2.3.7), AES-256 among them, since archives are always AES-256. Passphrases are trimmed, as
 * `core.getInput` trims every input.
 * @param read reads one raw input by its action.yml name ('' when unset).
 * @param now the time at which keys must be valid (default: the current time).
 * @returns undefined when neither input is set (no encryption); else the keys and their
 *   fingerprints (40 upper-case hex digits), or the passphrase.
 * @throws ConfigError naming the input, what is wrong and how to fix it; never the secret's value.
 */
export async function parseEncryptionInputs(
  read: InputReader,
  now: Date = new Date(),
): Promise<EncryptionConfig | undefined> {
  const armored = read('encryption-public-key').trim();
  const passphrase = read('encryption-passphrase').trim();
  if (armored !== '' && passphrase !== '') {
    throw new ConfigError(
      'encryption-passphrase',
      'is set together with encryption-public-key; set only one of them. encryption-public-key is recommended: the backup runner then never holds what decrypts the archives.',
    );
  }
  if (passphrase !== '') return { mode: 'passphrase', passphrase };
  if (armored === '') return undefined;

  const input = 'encryption-public-key';
  const blocks = splitBlocks(input, armored, 'PUBLIC KEY BLOCK', 'gpg --armor --export <key id>');
  const keys: PublicKey[] = [];
  const recipients: string[] = [];
  for (const [index, block] of blocks.entries()) {
    const where = blocks.length > 1 ? `block ${index + 1} of ${blocks.length}` : 'the key';
    const suffix = blocks.length > 1 ? ` (block ${index + 1} of ${blocks.length})` : '';
    if (block.type === 'PRIVATE KEY BLOCK') {
      throw new ConfigError(
        input,
        `${where} is a private key (-----BEGIN PGP PRIVATE KEY BLOCK-----); this input takes public keys only, so that the backup runner never holds what decrypts. Export the public half with \`gpg --armor --export <key id>\` and give the private key only to restores (decryption-private-key).`,
      );
    }
    if (block.type !== 'PUBLIC KEY BLOCK') {
      throw new ConfigError(
        input,
        `${where} is a PGP ${block.type}, not a public key; export the key with \`gpg --armor --export <key id>\`.`,
      );
    }
    const blockKeys = await readKeyBlock(input, where, block.text, 'gpg --armor --export <key id>');
    for (const key of blockKeys) {
      const fingerprint = key.getFingerprint().toUpperCase();
      await checkEncryptionKey({ input, where, suffix }, key, fingerprint, now);
      if (recipients.includes(fingerprint)) continue;
      keys.push(key);
      recipients.push(fingerprint);
    }
  }
  return { mode: 'public-key', keys, recipients };
}

/**
 * Reads `decryption-private-key` (+ `decryption-private-key-passphrase`) / `decryption-passphrase`
 * and validates them before any work: every key must be a private key with a usable (not a
 * gnu-dummy stub) decryption key or subkey, unlocked with the passphrase when it is protected
 * (RFC 4880 §5.5.3; https://docs.openpgpjs.org/global.html#decryptKey). Expired keys are accepted:
 * they must still decrypt the archives made for them.
 * @param read reads one raw input by its action.yml name ('' when unset).
 * @returns undefined when neither `decryption-private-key` nor `decryption-passphrase` is set; else
 *   the unlocked keys and their fingerprints, or the passphrase.
 * @throws ConfigError naming the input, what is wrong and how to fix it; never the secret's value.
 */
export async function parseDecryptionInputs(read: InputReader): Promise<DecryptionConfig | undefined> {
  const armored = read('decryption-private-key').trim();
  const keyPassphrase = read('decryption-private-key-passphrase').trim();
  const passphrase = read('decryption-passphrase').trim();
  if (armored !== '' && passphrase !== '') {
    throw new ConfigError(
      'decryption-passphrase',
      'is set together with decryption-private-key; set only the one that matches how the archives were encrypted (encryption-public-key → decryption-private-key, encryption-passphrase → decryption-passphrase).',
    );
  }
  if (keyPassphrase !== '' && armored === '') {
    throw new ConfigError(
      'decryption-private-key-passphrase',
      'is set but decryption-private-key is not; set decryption-private-key to the private key this passphrase unlocks (`gpg --armor --export-secret-keys <key id>`).',
    );
  }
  if (passphrase !== '') return { mode: 'passphrase', passphrase };
  if (armored === '') return undefined;

  const input = 'decryption-private-key';
  const blocks = splitBlocks(input, armored, 'PRIVATE KEY BLOCK', 'gpg --armor --export-secret-keys <key id>');
  const keys: PrivateKey[] = [];
  const fingerprints: string[] = [];
  for (const [index, block] of blocks.entries()) {
    const where = blocks.length > 1 ? `block ${index + 1} of ${blocks.length}` : 'the key';
    const suffix = blocks.length > 1 ? ` (block ${index + 1} of ${blocks.length})` : '';
    if (block.type === 'PUBLIC KEY BLOCK') {
      throw new ConfigError(
        input,
        `${where} is a public key (-----BEGIN PGP PUBLIC KEY BLOCK-----); decryption needs the private key: export it with \`gpg --armor --export-secret-keys <key id>\`. (The public key goes to encryption-public-key, in the backup workflow.)`,
      );
    }
    if (block.type !== 'PRIVATE KEY BLOCK') {
      throw new ConfigError(
        input,
        `${where} is a PGP ${block.type}, not a private key; export the key with \`gpg --armor --export-secret-keys <key id>\`.`,
      );
    }
    for (const key of await readKeyBlock(input, where, block.text, 'gpg --armor --export-secret-keys <key id>')) {
      const fingerprint = key.getFingerprint().toUpperCase();
      if (!key.isPrivate()) {
        throw new ConfigError(
          input,
          `${where} holds the public key ${fingerprint} only; export the private key with \`gpg --armor --export-secret-keys ${fingerprint}\`.`,
        );
      }
      const unlocked = await unlock(key, fingerprint, suffix, keyPassphrase);
      try {
        await unlocked.getDecryptionKeys(undefined, null);
      } catch (error) {
        const reason = errorText(error);
        const stub = /gnu-dummy/i.test(reason);
        throw new ConfigError(
          input,
          `key ${fingerprint}${suffix} has no usable secret encryption key or subkey` +
            (stub
              ? ' (its secret encryption subkey is a stub: it lives on a smartcard or was not exported)'
              : ' (it can only sign or certify)') +
            `; export the private key that holds the encryption subkey with \`gpg --armor --export-secret-keys ${fingerprint}\`.`,
        );
      }
      if (fingerprints.includes(fingerprint)) continue;
      keys.push(unlocked);
      fingerprints.push(fingerprint);
    }
  }
  return { mode: 'private-key', keys, fingerprints };
}

/** The armored blocks of an input, or a ConfigError saying why there are none or one is cut off. */
function splitBlocks(input: string, value: string, expected: string, exportCommand: string): ArmoredBlock[] {
  const blocks = armoredBlocks(value);
  const begins = [...value.matchAll(/-----BEGIN PGP ([A-Z0-9 ,/]+)-----/g)];
  if (begins.length === 0) {
    let hint = '';
    if (value.startsWith('LS0tLS1CRUdJTiBQR1A'))
      hint = ' It looks base64-encoded: store the armored text itself, not its base64.';
    else if (value.includes('\\n'))
      hint =
        ' Its line breaks look written as \\n: store it with real line breaks (e.g. `gh secret set NAME < key.asc`).';
    throw new ConfigError(
      input,
      `is not an ASCII-armored OpenPGP key (no '-----BEGIN PGP ${expected}-----' line found); export it with \`${exportCommand}\` and store the whole output, BEGIN and END lines included.${hint}`,
    );
  }
  if (begins.length !== blocks.length) {
    const index = blocks.length;
    const type = begins[index]?.[1] ?? expected;
    throw new ConfigError(
      input,
      `block ${index + 1} has no '-----END PGP ${type}-----' line: the key was cut off. Store the whole output of \`${exportCommand}\`, BEGIN and END lines included.`,
    );
  }
  return blocks;
}

/** Reads the keys of one armored block; a ConfigError when OpenPGP.js cannot parse it. */
async function readKeyBlock(
  input: string,
  where: string,
  text: string,
  exportCommand: string,
): Promise<(PublicKey | PrivateKey)[]> {
  let keys: (PublicKey | PrivateKey)[];
  try {
    keys = await openpgp.readKeys({ armoredKeys: text });
  } catch (error) {
    throw new ConfigError(
      input,
      `${where} could not be read as an OpenPGP key (${safeReason(error)}); it is damaged or incomplete. Export it again with \`${exportCommand}\` and store the whole output.`,
    );
  }
  if (keys.length === 0)
    throw new ConfigError(input, `${where} holds no key; export it again with \`${exportCommand}\`.`);
  return keys;
}

/** Where a key was given, for messages: the input, `the key` or `block 2 of 3`, and a suffix. */
interface KeyPlace {
  input: string;
  where: string;
  suffix: string;
}

/** Checks that `key` can receive an AES-256 SEIPD v1 message now; a ConfigError otherwise. */
async function checkEncryptionKey(
  { input, where, suffix }: KeyPlace,
  key: PublicKey | PrivateKey,
  fingerprint: string,
  now: Date,
): Promise<void> {
  if (key.isPrivate()) {
    throw new ConfigError(
      input,
      `${where} holds the private key ${fingerprint}; this input takes public keys only, so that the backup runner never holds what decrypts. Export the public half with \`gpg --armor --export ${fingerprint}\`.`,
    );
  }
  if (key.keyPacket.version !== 4) {
    throw new ConfigError(
      input,
      `key ${fingerprint}${suffix} is a version ${key.keyPacket.version} key; archives are RFC 4880 messages that gpg 2.2 reads, which need a version 4 key. Make one with \`gpg --quick-gen-key 'Backups <backups@example.com>' default default never\`.`,
    );
  }
  const expiry = await key.getExpirationTime().catch(() => null);
  if (expiry instanceof Date && expiry.getTime() <= now.getTime()) {
    throw new ConfigError(
      input,
      `key ${fingerprint}${suffix} expired on ${expiry.toISOString()}; extend it with \`gpg --quick-set-expire ${fingerprint} 2y\` and \`gpg --quick-set-expire ${fingerprint} 2y '*'\` (its subkeys), then export it again with \`gpg --armor --export ${fingerprint}\`.`,
    );
  }
  let encryptionKey: Awaited<ReturnType<PublicKey['getEncryptionKey']>>;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, now);
  } catch (error) {
    const reason = errorText(error);
    if (/revoked/i.test(reason)) {
      throw new ConfigError(input, `key ${fingerprint}${suffix} is revoked; use another key.`);
    }
    if (/expired/i.test(reason)) {
      throw new ConfigError(
        input,
        `key ${fingerprint}${suffix} has no valid encryption subkey: ${/subkey/i.test(reason) ? 'its encryption subkey has expired' : 'it has expired'}. Extend it with \`gpg --quick-set-expire ${fingerprint} 2y '*'\`, then export it again with \`gpg --armor --export ${fingerprint}\`.`,
      );
    }
    if (/too weak|shorter than|curve/i.test(reason)) {
      throw new ConfigError(
        input,
        `key ${fingerprint}${suffix} is not accepted (${safeReason(error)}); make a new key with \`gpg --quick-gen-key 'Backups <backups@example.com>' default default never\`.`,
      );
    }
    throw new ConfigError(
      input,
      `key ${fingerprint}${suffix} has no encryption-capable key or subkey (it can only sign or certify); add one with \`gpg --quick-add-key ${fingerprint} default encrypt\` and export it again with \`gpg --armor --export ${fingerprint}\`, or use another key.`,
    );
  }
  // Compared as numbers: the packet's algorithm and the enum members are typed apart.
  const algorithm = Number(encryptionKey.keyPacket.algorithm);
  const { x25519, x448 } = openpgp.enums.publicKey;
  if (algorithm === Number(x25519) || algorithm === Number(x448)) {
    const name = algorithm === Number(x25519) ? 'X25519' : 'X448';
    throw new ConfigError(
      input,
      `key ${fingerprint}${suffix} encrypts with ${name} (RFC 9580), which gpg 2.2 cannot decrypt; use an RSA or Curve25519 (cv25519) key made with \`gpg --quick-gen-key 'Backups <backups@example.com>' future-default default never\`.`,
    );
  }
  // getPrimarySelfSignature (v6 runtime; not in the typings): the user ID or direct-key self-signature.
  const selfSignature = await (
    key as unknown as {
      getPrimarySelfSignature(date: Date): Promise<{ preferredSymmetricAlgorithms?: number[] | null }>;
    }
  )
    .getPrimarySelfSignature(now)
    .catch(() => null);
  const preferred = selfSignature?.preferredSymmetricAlgorithms;
  if (preferred && preferred.length > 0 && !preferred.includes(openpgp.enums.symmetric.aes256)) {
    throw new ConfigError(
      input,
      `key ${fingerprint}${suffix} does not list AES-256 among its cipher preferences, and archives are always AES-256; add it with \`gpg --edit-key ${fingerprint} setpref AES256 AES192 AES SHA512 SHA256 Uncompressed save\` and export the key again.`,
    );
  }
}

/** Unlocks a private key with the passphrase when it is protected; a ConfigError otherwise. */
async function unlock(key: PrivateKey, fingerprint: string, suffix: string, passphrase: string): Promise<PrivateKey> {
  if (key.isDecrypted()) return key;
  if (passphrase === '') {
    throw new ConfigError(
      'decryption-private-key-passphrase',
      `is not set, but key ${fingerprint} in decryption-private-key${suffix} is protected by a passphrase; set decryption-private-key-passphrase from a secret holding it.`,
    );
  }
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (error) {
    const reason = errorText(error);
    if (/incorrect key passphrase|passphrase/i.test(reason)) {
      throw new ConfigError(
        'decryption-private-key-passphrase',
        `does not unlock key ${fingerprint} in decryption-private-key${suffix}: wrong passphrase. Check the secret; \`gpg --export-secret-keys\` keeps the key's own passphrase.`,
      );
    }
    throw new ConfigError(
      'decryption-private-key',
      `key ${fingerprint}${suffix} could not be unlocked: ${safeReason(error)}`,
    );
  }
}

/** The message of an error and of its causes. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    // A non-Error is quoted as String() gives it (OpenPGP.js may throw strings).
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- any thrown value, quoted as text
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}
