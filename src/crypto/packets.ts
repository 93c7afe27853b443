/**
 * The start of a binary OpenPGP message, read without OpenPGP.js: the session key packets and the
 * first bytes of the encrypted data, so that a wrong key fails fast and a file that is not an
 * encrypted message is named as what it is. Pure.
 */

/** Packet tags (RFC 4880 §4.3, RFC 9580 §5). */
export const TAG = {
  pkesk: 1,
  signature: 2,
  skesk: 3,
  onePass: 4,
  secretKey: 5,
  publicKey: 6,
  secretSubkey: 7,
  compressed: 8,
  sed: 9,
  marker: 10,
  literal: 11,
  publicSubkey: 14,
  seipd: 18,
  aead: 20,
  padding: 21,
} as const;

/** What the start of a binary OpenPGP message holds, once the encrypted data packet is reached. */
export type Head =
  | { status: 'need-more' }
  | { status: 'invalid'; reason: string }
  | {
      status: 'ok';
      /** The session key packets (PKESK/SKESK/marker/padding) as bytes. */
      esk: Uint8Array;
      eskTags: number[];
      /** Tag of the encrypted data packet: 18 (SEIPD), 20 (OCB), 9 (SED). */
      dataTag: number;
      /** The first bytes (≤ 19) of the encrypted data packet's body. */
      body: Uint8Array;
    };

/**
 * Walks the packet headers (RFC 4880 §4.2: old and new formats, partial body lengths) up to the
 * first encrypted data packet. Pure.
 */
export function parseHead(buf: Uint8Array, ended: boolean): Head {
  const more = (what: string): Head =>
    ended ? { status: 'invalid', reason: `it ends (after ${buf.length} bytes) ${what}` } : { status: 'need-more' };
  const eskTags: number[] = [];
  let offset = 0;
  for (;;) {
    if (offset >= buf.length) return more('before any encrypted data');
    if (((buf[offset] as number) & 0x80) === 0) {
      return {
        status: 'invalid',
        reason:
          offset === 0 ? 'it does not start with an OpenPGP packet' : `byte ${offset} is not an OpenPGP packet header`,
      };
    }
    const header = readPacketHeader(buf, offset);
    if (header === undefined) return more('inside a packet header');
    const { tag, headerLength, bodyLength, partial } = header;
    const bodyStart = offset + headerLength;
    if (tag === TAG.pkesk || tag === TAG.skesk || tag === TAG.marker || tag === TAG.padding) {
      if (partial || bodyLength === undefined)
        return { status: 'invalid', reason: `its session key packet at byte ${offset} has no definite length` };
      if (bodyStart + bodyLength > buf.length) return more('inside a session key packet');
      if (tag === TAG.pkesk || tag === TAG.skesk) eskTags.push(tag);
      offset = bodyStart + bodyLength;
      continue;
    }
    if (tag === TAG.seipd || tag === TAG.aead || tag === TAG.sed) {
      if (eskTags.length === 0)
        return { status: 'invalid', reason: 'it has no session key packet before its encrypted data' };
      const wanted = Math.min(bodyLength ?? 19, 19);
      if (bodyStart + wanted > buf.length) return more('inside the encrypted data packet');
      return {
        status: 'ok',
        esk: buf.subarray(0, offset),
        eskTags,
        dataTag: tag,
        body: buf.subarray(bodyStart, bodyStart + wanted),
      };
    }
    return { status: 'invalid', reason: notEncryptedReason(tag, offset) };
  }
}

interface PacketHeader {
  tag: number;
  headerLength: number;
  /** Undefined: to the end of the data (old format, length type 3). */
  bodyLength: number | undefined;
  /** A partial body length (new format): more chunks follow the first `bodyLength` bytes. */
  partial: boolean;
}

/** The packet header at `offset` (its first byte has bit 7 set); undefined when `buf` ends inside it. */
function readPacketHeader(buf: Uint8Array, offset: number): PacketHeader | undefined {
  const first = buf[offset] as number;
  if (first & 0x40) {
    const tag = first & 0x3f;
    if (offset + 1 >= buf.length) return undefined;
    const o1 = buf[offset + 1] as number;
    if (o1 < 192) return { tag, headerLength: 2, bodyLength: o1, partial: false };
    if (o1 < 224) {
      if (offset + 2 >= buf.length) return undefined;
      return {
        tag,
        headerLength: 3,
        bodyLength: ((o1 - 192) << 8) + (buf[offset + 2] as number) + 192,
        partial: false,
      };
    }
    if (o1 === 255) {
      if (offset + 5 >= buf.length) return undefined;
      const bodyLength = new DataView(buf.buffer, buf.byteOffset + offset + 2, 4).getUint32(0);
      return { tag, headerLength: 6, bodyLength, partial: false };
    }
    return { tag, headerLength: 2, bodyLength: 1 << (o1 & 0x1f), partial: true };
  }
  const tag = (first >> 2) & 0x0f;
  const type = first & 0x03;
  const headerLength = [2, 3, 5, 1][type] as number;
  if (offset + headerLength > buf.length) return undefined;
  let bodyLength: number | undefined;
  if (type === 0) bodyLength = buf[offset + 1];
  else if (type === 1) bodyLength = ((buf[offset + 1] as number) << 8) | (buf[offset + 2] as number);
  else if (type === 2) bodyLength = new DataView(buf.buffer, buf.byteOffset + offset + 1, 4).getUint32(0);
  return { tag, headerLength, bodyLength, partial: false };
}

/** Why a packet with `tag` at `offset` is not where the encrypted data should start. */
function notEncryptedReason(tag: number, offset: number): string {
  let looksLike = `a packet with tag ${tag}`;
  if (tag === TAG.literal || tag === TAG.compressed || tag === TAG.onePass || tag === TAG.signature)
    looksLike = 'an unencrypted (plain or signed) message';
  if (tag === TAG.publicKey || tag === TAG.secretKey || tag === TAG.publicSubkey || tag === TAG.secretSubkey)
    looksLike = 'a key';
  return offset === 0
    ? `it does not start with a session key packet (public-key or passphrase); its first bytes read as ${looksLike}`
    : `byte ${offset}, after its session key packets, is ${looksLike} instead of encrypted data`;
}
