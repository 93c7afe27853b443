/**
 * The encryption and decryption inputs' names and what to mask of them. Importing this does not
 * load openpgp (config/openpgp-inputs.ts parses the keys).
 */
import { inputSpecs, type InputSpec } from './action-inputs.js';
import { armoredBlocks } from '../crypto/specs.js';
import type { InputReader } from './reader.js';

/** The encryption and decryption inputs, as action.yml declares them (all default to ''; every one is a secret). */
export const ENCRYPTION_INPUTS: readonly InputSpec[] = inputSpecs([
  'encryption-public-key',
  'encryption-passphrase',
  'decryption-private-key',
  'decryption-private-key-passphrase',
  'decryption-passphrase',
]);

const SECRET_INPUT_NAMES = ENCRYPTION_INPUTS.map((i) => i.name);

/**
 * Every string to pass to `core.setSecret` for the encryption inputs, before any other work: each
 * raw value (trimmed and as given), each armored block, each base64 line of a block (so that a key
 * printed line by line is hidden too; lines shorter than 16 characters, such as armor headers and
 * the CRC line, are left out), and the passphrases. Pure apart from `read`; never empty strings.
 */
export function encryptionSecrets(read: InputReader): string[] {
  const secrets = new Set<string>();
  for (const name of SECRET_INPUT_NAMES) {
    const raw = read(name);
    const value = raw.trim();
    if (value === '') continue;
    secrets.add(value);
    if (raw !== value) secrets.add(raw);
    for (const block of armoredBlocks(value)) {
      secrets.add(block.text);
      for (const line of block.text.split(/\r?\n/)) {
        const trimmed = line.trim();
        if (/^[A-Za-z0-9+/=]{16,}$/.test(trimmed)) secrets.add(trimmed);
      }
    }
  }
  return [...secrets];
}
