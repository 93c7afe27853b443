/**
 * The encryption and decryption inputs' names and what to mask of them. Importing this does not
 * load openpgp (config/openpgp-inputs.ts parses the keys).
 */
import { armoredBlocks } from '../crypto/specs.js';
import type { InputReader } from './reader.js';

/** The inputs this module reads, for action.yml (all default to ''; every one is a secret). */
export const ENCRYPTION_INPUTS: { name: string; default: string; description: string }[] = [
  {
    name: 'encryption-public-key',
    default: '',
    description:
      'Encrypt each archive (OpenPGP, AES-256, readable by `gpg --decrypt`) to this ASCII-armored public key, from `gpg --armor --export <key id>`; several keys (one armored block each, or one block holding several) mean any of their holders can decrypt. The archive gets a .gpg suffix. Recommended over encryption-passphrase: the backup runner then never holds what decrypts. Set it from a secret. Excludes encryption-passphrase.',
  },
  {
    name: 'encryption-passphrase',
    default: '',
    description:
      'Encrypt each archive with this passphrase (OpenPGP, AES-256; `gpg --decrypt` asks for it). Set it from a secret. Excludes encryption-public-key.',
  },
  {
    name: 'decryption-private-key',
    default: '',
    description:
      'For restores and drills of encrypted archives: the ASCII-armored private key, from `gpg --armor --export-secret-keys <key id>`. Give it only to the restore/drill workflow, never to the backup workflow. Set it from a secret. Excludes decryption-passphrase.',
  },
  {
    name: 'decryption-private-key-passphrase',
    default: '',
    description: 'Passphrase that unlocks decryption-private-key, when the key is protected. Set it from a secret.',
  },
  {
    name: 'decryption-passphrase',
    default: '',
    description:
      'For restores and drills of archives encrypted with encryption-passphrase: that passphrase. Set it from a secret. Excludes decryption-private-key.',
  },
];

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
