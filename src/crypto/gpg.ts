/**
 * Encryption of the archive by the `gpg` command line (GnuPG), as one more child in the
 * dump chain: pg_dump → zstd → gpg → the action. The archive bytes are encrypted outside the
 * action's process, as they are compressed outside it, so the encryption's per-chunk buffers never
 * reach Node's heap (OpenPGP.js in the process peaked at 176 MB RSS for a 1 GB database, gpg adds
 * about 5 MB; docs/benchmarks.md).
 *
 * The message must be the one OpenPGP.js writes (encrypt.ts), so that this action's restores read
 * it: RFC 4880 packets only (`--openpgp`), AES-256 (`--cipher-algo`), no compression packet, one
 * PKESK v3 per recipient (or one SKESK v4 for a passphrase, iterated and salted S2K with SHA-256)
 * and a SEIPD v1 packet. GnuPG 2.4 may write LibrePGP's OCB packets (tag 20) when every recipient
 * key advertises them, and other builds may differ again, so nothing is assumed: before the dump
 * starts, {@link prepareGpgEncrypter} encrypts a probe message with the exact arguments and keys
 * and reads its packets back with OpenPGP.js ({@link checkGpgMessage}); a passphrase probe is also
 * decrypted. Any difference, or a gpg that is missing, too old or fails, leaves encryption to
 * OpenPGP.js.
 *
 * No gpg-agent is started (`--no-autostart`): public-key encryption needs none, and passphrase
 * encryption needs one only to learn the S2K count, which is given (`--s2k-count`, the count
 * OpenPGP.js writes). The passphrase reaches gpg on file descriptor 3, never in its arguments.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { which } from '@actions/io';
import * as openpgp from 'openpgp';
import type { PublicKey } from 'openpgp';
import { errorMessage } from '../errors.js';
import { spawnStage, toolOutput, type ChildStage } from '../pipeline/process.js';
import type { EncryptionInfo } from './encrypt.js';
import type { EncryptionConfig } from './specs.js';

/** The oldest gpg with `--recipient-file` (GnuPG 2.1.14). */
export const MIN_GPG_VERSION: readonly [number, number, number] = [2, 1, 14];

/** A gpg found on this machine. */
export interface GpgTool {
  path: string;
  /** As `gpg --version` prints it, e.g. `2.2.40`. */
  version: string;
}

/**
 * The version in `gpg --version` output: its first line is `gpg (GnuPG) 2.2.40` (or
 * `gpg (GnuPG/MacGPG2) 2.2.41`). Undefined when the text is not GnuPG's.
 */
export function parseGpgVersion(text: string): string | undefined {
  return /^gpg \(GnuPG[^)]*\) (\d+\.\d+\.\d+)/.exec(text)?.[1];
}

/** True when `version` (x.y.z) is at least {@link MIN_GPG_VERSION}. */
export function gpgVersionSupported(version: string): boolean {
  const parts = version.split('.').map(Number);
  for (const [i, min] of MIN_GPG_VERSION.entries()) {
    const part = parts[i] ?? 0;
    if (part !== min) return part > min;
  }
  return true;
}

/** Looks for `gpg` on PATH and reads its version; undefined when there is none or it does not answer. */
export async function detectGpg(): Promise<GpgTool | undefined> {
  const path = await which('gpg', false);
  const output = path ? await toolOutput(path, ['--version']) : undefined;
  const version = output && parseGpgVersion(output.stdout);
  return path && version ? { path, version } : undefined;
}

/** What gpg encrypts to: key files, or a passphrase read from file descriptor 3. */
export type GpgTarget = { recipientFiles: string[] } | { passphraseFd3: true; s2kCount: number };

/**
 * The S2K iteration count OpenPGP.js writes (`config.s2kIterationCountByte`, decoded as RFC 4880
 * §3.7.1.3: (16 + (c & 15)) << ((c >> 4) + 6); 224 → 16 777 216 bytes hashed).
 */
export function openpgpS2kCount(): number {
  const c = openpgp.config.s2kIterationCountByte;
  return (16 + (c & 15)) * 2 ** ((c >> 4) + 6);
}

/**
 * gpg's arguments to encrypt stdin, binary, to stdout: to the keys in the recipient files, or with
 * the passphrase on file descriptor 3 (`--symmetric`, iterated and salted S2K with SHA-256 and the
 * given count, AES-256, loopback pinentry so no agent is asked). `--openpgp` comes first because it
 * resets the cipher, S2K and compression options given before it (gpg manual, "--openpgp");
 * `--no-autostart` keeps gpg from starting a gpg-agent, dirmngr or keyboxd; the home holds nothing
 * but the recipients' key files.
 */
export function buildGpgEncryptArgs(home: string, target: GpgTarget): string[] {
  const how =
    'recipientFiles' in target
      ? [...target.recipientFiles.flatMap((file) => ['--recipient-file', file]), '--output', '-', '--encrypt']
      : [
          '--pinentry-mode',
          'loopback',
          '--passphrase-fd',
          '3',
          '--no-symkey-cache',
          '--s2k-mode',
          '3',
          '--s2k-digest-algo',
          'SHA256',
          '--s2k-count',
          String(target.s2kCount),
          '--s2k-cipher-algo',
          'AES256',
          '--output',
          '-',
          '--symmetric',
        ];
  return [
    '--homedir',
    home,
    '--openpgp',
    '--batch',
    '--no-tty',
    '--quiet',
    '--no-autostart',
    '--trust-model',
    'always',
    '--cipher-algo',
    'AES256',
    '--compress-algo',
    'none',
    ...how,
  ];
}

/**
 * Why `message` (a binary OpenPGP message) is not the kind this action writes; undefined when it is.
 * The last packet must be a SEIPD packet of version 1 (RFC 4880 §5.13). Before it, to `keys`:
 * exactly one PKESK v3 packet (§5.1) per key, each addressed to a key ID of that key (its primary
 * key or a subkey); the cipher sits inside the PKESK and cannot be judged without a private key
 * (gpg is told AES-256). With a `passphrase`: exactly one SKESK v4 packet (§5.3) naming AES-256,
 * with an iterated and salted SHA-256 S2K (§3.7.1.3), and the message must decrypt to `plaintext`.
 * Refused, among others: PKESK v6 / SEIPD v2 (RFC 9580), the AEAD Encrypted Data packet (tag 20,
 * LibrePGP OCB as GnuPG 2.4 may write), anonymous recipients (`--throw-keyids`), missing or extra
 * recipients, a passphrase packet besides keys.
 */
export async function checkGpgMessage(
  message: Uint8Array,
  expected: { keys: PublicKey[] } | { passphrase: string; plaintext: Uint8Array },
): Promise<string | undefined> {
  let parsed: openpgp.Message<Uint8Array>;
  try {
    parsed = await openpgp.readMessage({ binaryMessage: message });
  } catch (error) {
    return `it is not an OpenPGP message OpenPGP.js can read (${errorMessage(error)})`;
  }
  const packets = parsed.packets;
  const tags = packets.map((p) => (p.constructor as unknown as { tag: number }).tag);
  const last = packets[packets.length - 1] as { version?: number } | undefined;
  if (tags[tags.length - 1] !== openpgp.enums.packet.symEncryptedIntegrityProtectedData || last?.version !== 1) {
    return `its data packet is not a version 1 Symmetrically Encrypted Integrity Protected Data packet (packet tags: ${tags.join(', ')}${last?.version !== undefined ? `; last packet version ${last.version}` : ''})`;
  }
  const sessionKeys = packets.slice(0, -1);
  if ('passphrase' in expected) return checkPassphraseMessage(parsed, sessionKeys, tags, expected);
  const { keys } = expected;
  const unclaimed = keys.map((key) => new Set(key.getKeyIDs().map((id) => id.toHex())));
  for (const packet of sessionKeys) {
    // The typings omit these fields of the packet class (openpgp.js src/packet/public_key_encrypted_session_key.js).
    const pkesk = packet as unknown as { version?: number; publicKeyID?: openpgp.KeyID };
    if (!(packet instanceof openpgp.PublicKeyEncryptedSessionKeyPacket) || pkesk.version !== 3 || !pkesk.publicKeyID) {
      return `it holds a session-key packet other than PKESK version 3 (packet tags: ${tags.join(', ')})`;
    }
    const id = pkesk.publicKeyID.toHex();
    const owner = unclaimed.findIndex((ids) => ids.has(id));
    if (owner < 0)
      return `it is addressed to key ID ${id}, which is none of the recipients (or a second time to one of them)`;
    unclaimed[owner] = new Set();
  }
  const missing = unclaimed.filter((ids) => ids.size > 0).length;
  return missing > 0 ? `${missing} of the ${keys.length} recipients got no session-key packet` : undefined;
}

/** The passphrase half of {@link checkGpgMessage}: one SKESK v4, AES-256, S2K iterated+salted SHA-256, and it decrypts. */
async function checkPassphraseMessage(
  message: openpgp.Message<Uint8Array>,
  sessionKeys: openpgp.AnyPacket[],
  tags: number[],
  expected: { passphrase: string; plaintext: Uint8Array },
): Promise<string | undefined> {
  // The typings omit these fields (openpgp.js src/packet/sym_encrypted_session_key.js, src/type/s2k).
  const skesk = sessionKeys[0] as unknown as
    | {
        version?: number;
        sessionKeyEncryptionAlgorithm?: number | null;
        sessionKeyAlgorithm?: number | null;
        s2k?: { type?: string; algorithm?: number };
      }
    | undefined;
  if (
    sessionKeys.length !== 1 ||
    !(sessionKeys[0] instanceof openpgp.SymEncryptedSessionKeyPacket) ||
    skesk?.version !== 4
  ) {
    return `it does not hold exactly one SKESK version 4 packet before the data (packet tags: ${tags.join(', ')})`;
  }
  // With an encrypted session key the packet names the cipher that wraps it; without one (gpg's
  // usual form) the S2K-derived key is the session key and the cipher named is the data's (§5.3).
  const cipher = skesk.sessionKeyEncryptionAlgorithm ?? skesk.sessionKeyAlgorithm;
  if (cipher !== openpgp.enums.symmetric.aes256)
    return `its passphrase packet names cipher ${String(cipher)} (RFC 4880 §9.2), not AES-256 (9)`;
  if (skesk.s2k?.type !== 'iterated' || skesk.s2k.algorithm !== openpgp.enums.hash.sha256) {
    return `its S2K is ${String(skesk.s2k?.type)} with hash ${String(skesk.s2k?.algorithm)}, not iterated and salted SHA-256`;
  }
  try {
    // Untyped: openpgp's stream types come from the optional peer @openpgp/web-stream-tools.
    const decrypted: unknown = await openpgp.decrypt({ message, passwords: [expected.passphrase], format: 'binary' });
    const { data } = decrypted as { data: Uint8Array };
    if (Buffer.compare(Buffer.from(data), Buffer.from(expected.plaintext)) !== 0)
      return 'it decrypts to other bytes than were encrypted';
  } catch (error) {
    return `OpenPGP.js cannot decrypt it with the passphrase (${errorMessage(error)})`;
  }
  return undefined;
}

/** A gpg ready to encrypt the archive; {@link GpgEncrypter.close} removes its home. */
export interface GpgEncrypter {
  /** What the manifest records (engine `gpg`). */
  readonly info: EncryptionInfo;
  /** Starts gpg writing into `stdout` (the pooled pipe); the producer writes into its stdin. */
  start(stdout: Writable): ChildStage & { stdin: Writable };
  close(): Promise<void>;
}

/** The probe's plaintext: small, and not all-zero, so gpg cannot take any shortcut. */
const PROBE = Buffer.from('postgres-backup-action: gpg probe\n');

/**
 * Sets gpg up to encrypt to `config`'s keys (or with its passphrase) and proves, by a probe message,
 * that it writes what {@link checkGpgMessage} accepts. The home is a fresh 0700 folder under
 * `tempDir` holding one binary key file per recipient (public keys only). A passphrase with a line
 * break is left to OpenPGP.js: gpg's `--passphrase-fd` reads one line.
 * @returns the encrypter, or the reason gpg will not be used (the caller then encrypts with
 *   OpenPGP.js); never throws.
 */
export async function prepareGpgEncrypter(
  tool: GpgTool,
  config: EncryptionConfig,
  tempDir: string,
): Promise<{ encrypter: GpgEncrypter; reason?: undefined } | { encrypter?: undefined; reason: string }> {
  if (!gpgVersionSupported(tool.version))
    return { reason: `gpg ${tool.version} is older than ${MIN_GPG_VERSION.join('.')} (no --recipient-file)` };
  if (config.mode === 'passphrase' && /[\r\n]/.test(config.passphrase))
    return { reason: "the passphrase holds a line break, and gpg's --passphrase-fd reads one line" };
  const secret = config.mode === 'passphrase' ? `${config.passphrase}\n` : undefined;
  let home: string | undefined;
  try {
    home = await mkdtemp(join(tempDir, 'gpg-'));
    let target: GpgTarget;
    if (config.mode === 'public-key') {
      const files = await Promise.all(
        config.keys.map(async (key, i) => {
          const file = join(home as string, `recipient-${i + 1}.pgp`);
          await writeFile(file, key.write());
          return file;
        }),
      );
      target = { recipientFiles: files };
    } else {
      target = { passphraseFd3: true, s2kCount: openpgpS2kCount() };
    }
    const args = buildGpgEncryptArgs(home, target);
    const probe = await runProbe(tool.path, args, secret);
    const wrong = await checkGpgMessage(
      probe,
      config.mode === 'public-key' ? { keys: config.keys } : { passphrase: config.passphrase, plaintext: PROBE },
    );
    if (wrong) throw new Error(`its probe message is not what this action's restores read: ${wrong}`);
    const kept = home;
    return {
      encrypter: {
        info: {
          algorithm: 'AES-256',
          mode: config.mode,
          recipients: config.mode === 'public-key' ? [...config.recipients] : [],
          engine: 'gpg',
          engineVersion: tool.version,
        },
        start: (stdout) => {
          const child = spawnStage('gpg', tool.path, args, {
            stdin: 'pipe',
            stdout,
            ...(secret === undefined ? {} : { fd3Input: secret }),
          });
          if (!child.stdin) throw new Error('gpg was started without a stdin pipe');
          return { ...child, stdin: child.stdin };
        },
        close: () => rm(kept, { recursive: true, force: true }),
      },
    };
  } catch (error) {
    if (home) await rm(home, { recursive: true, force: true }).catch(() => undefined);
    return { reason: `gpg ${tool.version} (${tool.path}): ${errorMessage(error)}` };
  }
}

/**
 * Encrypts {@link PROBE} with `args` (and `secret` on file descriptor 3); resolves with gpg's
 * output, rejects with its exit status and the end of its stderr.
 */
function runProbe(path: string, args: string[], secret: string | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawnStage('gpg', path, args, {
      stdin: 'pipe',
      ...(secret === undefined ? {} : { fd3Input: secret }),
    });
    const out: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(PROBE);
    const timer = setTimeout(() => child.kill(), 30_000);
    child.done
      .then(
        () => resolve(Buffer.concat(out)),
        (error: unknown) => reject(new Error(`the probe failed: ${errorMessage(error)}`)),
      )
      .finally(() => clearTimeout(timer));
  });
}
