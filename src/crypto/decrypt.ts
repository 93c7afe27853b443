import { createDecipheriv } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as openpgp from 'openpgp';
import type { DecryptedSessionKey, PrivateKey } from 'openpgp';
import { ActionError } from '../errors.js';
import { safeReason, type DecryptionConfig } from './openpgp-settings.js';
import { parseHead, TAG, type Head } from './packets.js';
import { modeMismatchMessage } from './specs.js';
import { WebStreamStage } from './web-stream.js';

/**
 * Decryption failed: wrong key or passphrase, not an encrypted archive, or the archive was
 * modified (integrity check). `input` names the input to check when it is about the key.
 * Phase 'decrypt'.
 */
export class DecryptError extends ActionError {
  constructor(
    message: string,
    readonly input?: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'decrypt', options);
  }
}

/** At most this many bytes are read looking for the encrypted data packet (bytes). */
const MAX_HEAD_BYTES = 4 * 1024 * 1024;

/**
 * The decryption stage of a restore: an OpenPGP message in (binary, or ASCII-armored), the
 * plaintext (the compressed archive) out. Reads archives this action made and those made by
 * `gpg --encrypt -r …` or `gpg --symmetric` (any cipher OpenPGP.js has; Compressed Data packets
 * of gpg are inflated; SEIPD v1 and v2 and LibrePGP OCB packets).
 *
 * A wrong key or passphrase fails BEFORE any plaintext is emitted: the session key is decrypted
 * from the PKESK/SKESK packets first (RFC 4880 §5.1, §5.3), and for SEIPD v1 it is checked against
 * the two repeated octets of the encrypted random prefix (§5.13, §13.9 "quick check"), since a
 * passphrase SKESK without an encrypted session key (gpg --symmetric) gives no other early sign.
 * Only then does output flow.
 *
 * Integrity: OpenPGP.js v6 streams unauthenticated plaintext (`allowUnauthenticatedStream`, needed
 * for bounded memory; https://docs.openpgpjs.org/global.html#config) and checks the Modification
 * Detection Code (RFC 4880 §5.14) when the data ends: a modified or truncated archive makes the
 * Duplex error at (or near) its end, after plaintext has passed. CONSUMERS MUST TREAT THE STREAM'S
 * ERROR AS FATAL and discard everything restored from it (pipeline() rejects; pg_restore's input
 * is then cut, and the restore must fail).
 *
 * @returns a Duplex (1 MiB buffers each side, bounded memory) that errors with a
 *   {@link DecryptError}: `input` names the key input to check for a wrong key or passphrase.
 */
export function createDecryptStage(config: DecryptionConfig): Duplex {
  return new WebStreamStage(
    (input) => startDecryption(input, config),
    (error) => (error instanceof DecryptError ? error : streamFailure(error)),
  );
}

/** A failure while the data streams: the integrity check, or damaged packets. */
function streamFailure(error: unknown): DecryptError {
  const reason = safeReason(error);
  if (/modification detected|authentication tag|tag mismatch|integrity/i.test(reason)) {
    return new DecryptError(
      `The archive failed its integrity check (${reason}): it was modified or damaged after it was encrypted. Discard everything decrypted from it and restore another backup.`,
      undefined,
      { cause: error },
    );
  }
  return new DecryptError(
    `Decrypting the archive failed (${reason}): it is damaged or truncated. Discard everything decrypted from it and restore another backup.`,
    undefined,
    { cause: error },
  );
}

async function startDecryption(
  input: ReadableStream<Uint8Array>,
  config: DecryptionConfig,
): Promise<ReadableStream<Uint8Array>> {
  let reader = input.getReader();
  const first = await readNonEmpty(reader);
  if (first === undefined) throw new DecryptError('The archive is empty (0 bytes): it is not an OpenPGP message.');
  let source = prepend([first], reader);
  if (looksArmored(first)) {
    let unarmored: { type: unknown; data: unknown };
    try {
      unarmored = await openpgp.unarmor(source.pipeThrough(new TextDecoderStream()) as unknown as string);
    } catch (error) {
      throw new DecryptError(
        `The archive is ASCII-armored but its armor could not be read (${safeReason(error)}).`,
        undefined,
        { cause: error },
      );
    }
    if (unarmored.type !== openpgp.enums.armor.message) {
      throw new DecryptError('The archive is ASCII-armored but is not a PGP MESSAGE (it is a key or a signature).');
    }
    source = unarmored.data as ReadableStream<Uint8Array>;
  }
  reader = source.getReader();

  let head: Uint8Array = new Uint8Array(0);
  let parsed: Head;
  for (;;) {
    const { done, value } = await reader.read();
    if (!done) head = concat(head, value);
    parsed = parseHead(head, done);
    if (parsed.status !== 'need-more') break;
    if (head.length > MAX_HEAD_BYTES) {
      parsed = { status: 'invalid', reason: `no encrypted data packet in its first ${MAX_HEAD_BYTES} bytes` };
      break;
    }
  }
  if (parsed.status === 'invalid') {
    await reader.cancel().catch(() => undefined);
    throw new DecryptError(
      `The archive is not an encrypted OpenPGP message: ${parsed.reason}. Is it the right file, and was it made with encryption?`,
    );
  }
  if (parsed.status !== 'ok') throw new Error('unreachable');

  const sessionKeys = await decryptSessionKey(parsed, config).catch(async (error: unknown) => {
    await reader.cancel().catch(() => undefined);
    throw error;
  });
  const readConfig = { ...openpgp.config, allowUnauthenticatedStream: true };
  const message = await openpgp.readMessage({
    binaryMessage: prepend([head], reader),
    config: { allowUnauthenticatedStream: true },
  });
  // algorithm is null for SEIPD v2, whose packet names its cipher (the typings want a name).
  const decrypted = await message.decrypt(
    undefined,
    undefined,
    sessionKeys as openpgp.SessionKey[],
    undefined,
    readConfig,
  );
  const literal = decrypted.getLiteralData() as ReadableStream<Uint8Array> | null;
  if (!literal)
    throw new DecryptError(
      'The archive decrypts to no literal data packet (RFC 4880 §5.9): it is damaged or not an archive.',
    );
  // openpgp.decrypt() (6.3) drains these packet streams one after the other once the literal data
  // has ended; when a packet follows the literal data inside the encrypted one (e.g. after a
  // tampered length), the inner parser waits for a reader while the outer one waits for it, and
  // the stream hangs. Draining them all at once lets the error (MDC or parse) surface instead.
  const packetStreams = [message, decrypted, decrypted.unwrapCompressed()]
    .map((m) => (m.packets as unknown as { stream?: unknown }).stream)
    .filter(
      (stream, i, all): stream is ReadableStream<unknown> =>
        typeof (stream as { getReader?: unknown } | null | undefined)?.getReader === 'function' &&
        all.indexOf(stream) === i,
    );
  return literalThenRest(literal, packetStreams);
}

/**
 * The literal data, which ends only once every packet stream has been read to its end without
 * error (so the MDC check, RFC 4880 §5.14, has passed); any error of theirs errors the output.
 */
function literalThenRest(
  literal: ReadableStream<Uint8Array>,
  rest: ReadableStream<unknown>[],
): ReadableStream<Uint8Array> {
  const reader = literal.getReader();
  const readers = rest.map((stream) => stream.getReader());
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let errored = false;
  const fail = (error: unknown): void => {
    if (errored) return;
    errored = true;
    reader.cancel(error).catch(() => undefined);
    for (const r of readers) r.cancel(error).catch(() => undefined);
    try {
      controller?.error(error);
    } catch {
      // already closed
    }
  };
  const drained = Promise.all(
    readers.map(async (r) => {
      for (;;) if ((await r.read()).done) return;
    }),
  );
  drained.catch(fail);
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (errored) return;
          if (!done) {
            c.enqueue(value);
            return;
          }
          await drained;
          if (!errored) c.close();
        } catch (error) {
          fail(error);
        }
      },
      cancel(reason) {
        errored = true;
        reader.cancel(reason).catch(() => undefined);
        for (const r of readers) r.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Node cipher names for the CFB quick check (RFC 4880 §9.2 ids); others skip the check. */
const CFB: Record<string, { cipher: string; blockSize: number }> = {
  aes128: { cipher: 'aes-128-cfb', blockSize: 16 },
  aes192: { cipher: 'aes-192-cfb', blockSize: 16 },
  aes256: { cipher: 'aes-256-cfb', blockSize: 16 },
  camellia128: { cipher: 'camellia-128-cfb', blockSize: 16 },
  camellia192: { cipher: 'camellia-192-cfb', blockSize: 16 },
  camellia256: { cipher: 'camellia-256-cfb', blockSize: 16 },
  tripledes: { cipher: 'des-ede3-cfb', blockSize: 8 },
  cast5: { cipher: 'cast5-cfb', blockSize: 8 },
  blowfish: { cipher: 'bf-cfb', blockSize: 8 },
};

/**
 * RFC 4880 §5.13: the plaintext of a SEIPD v1 packet starts with block-size random octets whose
 * last two are repeated. A wrong session key passes with probability 2^-16.
 * @returns 'pass' or 'fail'; 'pass' too for AEAD data (SEIPD v2, OCB), whose session key packets
 *   and first chunk are authenticated; 'unchecked' when the cipher is not one Node has here.
 */
function quickCheck(
  sessionKey: DecryptedSessionKey,
  head: Extract<Head, { status: 'ok' }>,
): 'pass' | 'fail' | 'unchecked' {
  const { body } = head;
  if (head.dataTag !== TAG.seipd || body[0] !== 1) return 'pass';
  const cfb = CFB[String(sessionKey.algorithm)];
  if (!cfb || body.length < 1 + cfb.blockSize + 2) return 'unchecked';
  const bs = cfb.blockSize;
  let prefix: Buffer;
  try {
    const decipher = createDecipheriv(cfb.cipher, sessionKey.data, Buffer.alloc(bs));
    prefix = decipher.update(body.subarray(1, 1 + bs + 2));
  } catch {
    return 'unchecked'; // cipher not in this OpenSSL (e.g. CAST5 without the legacy provider)
  }
  return prefix[bs - 2] === prefix[bs] && prefix[bs - 1] === prefix[bs + 1] ? 'pass' : 'fail';
}

/** Decrypts the session key from the ESK packets and checks it; DecryptError naming the input if wrong. */
async function decryptSessionKey(
  head: Extract<Head, { status: 'ok' }>,
  config: DecryptionConfig,
): Promise<DecryptedSessionKey[]> {
  if (head.dataTag === TAG.sed) {
    throw new DecryptError(
      'The archive uses the obsolete Symmetrically Encrypted Data packet, which has no integrity protection (RFC 4880 §5.7); it is refused. Re-encrypt it with a current gpg.',
    );
  }
  const allowed = {
    [openpgp.enums.packet.publicKeyEncryptedSessionKey]: openpgp.PublicKeyEncryptedSessionKeyPacket,
    [openpgp.enums.packet.symEncryptedSessionKey]: openpgp.SymEncryptedSessionKeyPacket,
    [openpgp.enums.packet.marker]: openpgp.MarkerPacket,
    [openpgp.enums.packet.padding]: (openpgp as unknown as { PaddingPacket: unknown }).PaddingPacket,
  };
  let packets: openpgp.PacketList<openpgp.AnyPacket>;
  try {
    packets = await openpgp.PacketList.fromBinary(head.esk, allowed as never);
  } catch (error) {
    throw new DecryptError(
      `The archive's session key packets could not be read (${safeReason(error)}): it is damaged.`,
      undefined,
      { cause: error },
    );
  }
  const recipients = packets
    .filter(
      (p): p is openpgp.PublicKeyEncryptedSessionKeyPacket => p instanceof openpgp.PublicKeyEncryptedSessionKeyPacket,
    )
    .map((p) => recipientOf(p));
  const hasPassphrase = packets.some((p) => p instanceof openpgp.SymEncryptedSessionKeyPacket);

  const input = config.mode === 'private-key' ? 'decryption-private-key' : 'decryption-passphrase';
  if (config.mode === 'passphrase' && !hasPassphrase) {
    throw new DecryptError(`Input '${input}': ${modeMismatchMessage('public-key', recipients)}`, input);
  }
  if (config.mode === 'private-key' && recipients.length === 0) {
    throw new DecryptError(`Input '${input}': ${modeMismatchMessage('passphrase', [])}`, input);
  }

  const message = new openpgp.Message(packets);
  let candidates: DecryptedSessionKey[];
  try {
    candidates = await openpgp.decryptSessionKeys(
      config.mode === 'private-key'
        ? { message, decryptionKeys: config.keys }
        : { message, passwords: [config.passphrase] },
    );
  } catch (error) {
    throw wrongKey(config, recipients, error);
  }
  const checked = candidates.map((key) => ({ key, verdict: quickCheck(key, head) }));
  const good = checked.filter((c) => c.verdict === 'pass').map((c) => c.key);
  // A PKESK carries a checksum of its session key (RFC 4880 §5.1), so a session key from a private
  // key that cannot be quick-checked is still sound. From a passphrase it is not: a wrong passphrase
  // decrypts an encrypted session key to a random cipher id now and then (~1 in 250: Twofish).
  const unchecked = checked.filter((c) => c.verdict === 'unchecked').map((c) => c.key);
  if (config.mode === 'private-key') good.push(...unchecked);
  if (good.length === 0) throw wrongKey(config, recipients, undefined, unchecked.length > 0);
  return good;
}

function wrongKey(
  config: DecryptionConfig,
  recipients: string[],
  cause: unknown,
  uncheckedCipher = false,
): DecryptError {
  if (config.mode === 'passphrase') {
    return new DecryptError(
      "Input 'decryption-passphrase': the passphrase does not decrypt this archive (wrong passphrase); check the secret given to decryption-passphrase: it must be the encryption-passphrase the backup was made with. Nothing was decrypted." +
        (uncheckedCipher
          ? ' (If the passphrase is right, the archive was encrypted with a cipher other than AES, Camellia, TripleDES, CAST5 or Blowfish, which passphrase restores do not accept: decrypt it by hand and re-encrypt it with `gpg --symmetric --cipher-algo AES256`.)'
          : ''),
      'decryption-passphrase',
      cause === undefined ? undefined : { cause },
    );
  }
  const ours = config.keys.flatMap((key) => keyIdsOf(key));
  const mismatch = recipients.length > 0 && !recipients.some((r) => r === 'anonymous' || ours.includes(r));
  return new DecryptError(
    "Input 'decryption-private-key': " +
      (mismatch
        ? `the archive is encrypted to key ID(s) ${recipients.join(', ')}, and the key given (${config.fingerprints.join(', ')}; key IDs ${ours.join(', ')}) is none of them; set decryption-private-key to the private key of one of the recipients (\`gpg --armor --export-secret-keys <key id>\`).`
        : `the key given (${config.fingerprints.join(', ')}) does not decrypt this archive's session key${cause === undefined ? ' (wrong key)' : ` (${safeReason(cause)})`}; set decryption-private-key to the private key of one of the recipients (${recipients.join(', ')}).`) +
      ' Nothing was decrypted.',
    'decryption-private-key',
    cause === undefined ? undefined : { cause },
  );
}

/** Upper-case hex key ID (or fingerprint for v6 PKESK) of a PKESK's recipient; 'anonymous' for a wildcard. */
function recipientOf(packet: openpgp.PublicKeyEncryptedSessionKeyPacket): string {
  const withFingerprint = packet as unknown as { publicKeyFingerprint?: Uint8Array; publicKeyID?: openpgp.KeyID };
  const id = withFingerprint.publicKeyID;
  if (id && !(id as unknown as { isWildcard(): boolean }).isWildcard()) return id.toHex().toUpperCase();
  if (withFingerprint.publicKeyFingerprint && withFingerprint.publicKeyFingerprint.length > 0) {
    return Buffer.from(withFingerprint.publicKeyFingerprint).toString('hex').toUpperCase();
  }
  return 'anonymous';
}

function keyIdsOf(key: PrivateKey): string[] {
  return key.getKeyIDs().map((id) => id.toHex().toUpperCase());
}

function looksArmored(chunk: Uint8Array): boolean {
  const text = Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.byteLength, 64)).toString('latin1');
  return /^\s*-----BEGIN PGP/.test(text);
}

async function readNonEmpty(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array | undefined> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return undefined;
    if (value.byteLength > 0) return value;
  }
}

/** A pull-driven stream: `chunks` first, then the rest of `reader`; cancelling it cancels the reader. */
function prepend(chunks: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  const queue = [...chunks];
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = queue.shift();
        if (next !== undefined) {
          controller.enqueue(next);
          return;
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
