/**
 * The pure parts of the gpg encryption stage: version parsing, the argument list, and the judgement
 * of a probe message (which packets OpenPGP.js reads back), on messages made by OpenPGP.js itself.
 */
import * as openpgp from 'openpgp';
import type { PublicKey } from 'openpgp';
import {
  buildGpgEncryptArgs,
  checkGpgMessage,
  gpgVersionSupported,
  openpgpS2kCount,
  parseGpgVersion,
} from '../../src/crypto/gpg.js';

describe('parseGpgVersion', () => {
  test.each<[string, string | undefined]>([
    ['gpg (GnuPG) 2.2.40\nlibgcrypt 1.10.1\n', '2.2.40'],
    ['gpg (GnuPG) 2.4.4\nlibgcrypt 1.10.3\nCopyright (C) 2024 g10 Code GmbH\n', '2.4.4'],
    ['gpg (GnuPG/MacGPG2) 2.2.41\n', '2.2.41'],
    ['gpg (GnuPG) 1.4.23\n', '1.4.23'],
    ['Sequoia-PGP gpg-sq 0.1\n', undefined],
    ['', undefined],
    ['libgcrypt 1.10.1\ngpg (GnuPG) 2.2.40\n', undefined],
  ])('%j → %s', (text, version) => {
    expect(parseGpgVersion(text)).toBe(version);
  });
});

describe('gpgVersionSupported (needs 2.1.14, --recipient-file)', () => {
  test.each<[string, boolean]>([
    ['2.1.14', true],
    ['2.1.13', false],
    ['2.2.40', true],
    ['2.4.4', true],
    ['3.0.0', true],
    ['2.0.30', false],
    ['1.4.23', false],
  ])('%s → %s', (version, ok) => {
    expect(gpgVersionSupported(version)).toBe(ok);
  });
});

describe('openpgpS2kCount', () => {
  test("OpenPGP.js's default count byte 224 is 16 MiB hashed (RFC 4880 §3.7.1.3)", () => {
    expect(openpgp.config.s2kIterationCountByte).toBe(224);
    expect(openpgpS2kCount()).toBe(16_777_216);
  });
});

describe('buildGpgEncryptArgs', () => {
  const args = buildGpgEncryptArgs('/tmp/home', { recipientFiles: ['/tmp/home/r1.pgp', '/tmp/home/r2.pgp'] });
  const symmetric = buildGpgEncryptArgs('/tmp/home', { passphraseFd3: true, s2kCount: 16_777_216 });
  const valueOf = (list: string[], option: string): string | undefined =>
    list.includes(option) ? list[list.indexOf(option) + 1] : undefined;

  test('--openpgp comes before the options it would reset, the home and recipients are as given', () => {
    expect(args.slice(0, 3)).toEqual(['--homedir', '/tmp/home', '--openpgp']);
    const at = (option: string): number => args.indexOf(option);
    expect(at('--cipher-algo')).toBeGreaterThan(at('--openpgp'));
    expect(args[at('--cipher-algo') + 1]).toBe('AES256');
    expect(at('--compress-algo')).toBeGreaterThan(at('--openpgp'));
    expect(args[at('--compress-algo') + 1]).toBe('none');
    expect(args.filter((_arg, i) => args[i - 1] === '--recipient-file')).toEqual([
      '/tmp/home/r1.pgp',
      '/tmp/home/r2.pgp',
    ]);
    expect(args.slice(-3)).toEqual(['--output', '-', '--encrypt']);
  });

  test('binary output, no agent, no interaction', () => {
    for (const list of [args, symmetric]) {
      for (const option of ['--batch', '--no-tty', '--no-autostart']) expect(list).toContain(option);
      expect(list).not.toContain('--armor');
    }
    expect(args).not.toContain('--symmetric');
    expect(args).not.toContain('--passphrase-fd');
  });

  test('passphrase: read from fd 3 (never an argument), S2K iterated+salted SHA-256 with the given count, AES-256, after --openpgp', () => {
    expect(symmetric.slice(0, 3)).toEqual(['--homedir', '/tmp/home', '--openpgp']);
    expect(symmetric.slice(-3)).toEqual(['--output', '-', '--symmetric']);
    expect(valueOf(symmetric, '--passphrase-fd')).toBe('3');
    expect(valueOf(symmetric, '--pinentry-mode')).toBe('loopback');
    expect(valueOf(symmetric, '--s2k-mode')).toBe('3');
    expect(valueOf(symmetric, '--s2k-digest-algo')).toBe('SHA256');
    expect(valueOf(symmetric, '--s2k-count')).toBe('16777216');
    expect(valueOf(symmetric, '--s2k-cipher-algo')).toBe('AES256');
    expect(valueOf(symmetric, '--cipher-algo')).toBe('AES256');
    expect(symmetric.indexOf('--s2k-count')).toBeGreaterThan(symmetric.indexOf('--openpgp'));
    expect(symmetric).not.toContain('--recipient-file');
    expect(symmetric).not.toContain('--encrypt');
  });
});

describe('checkGpgMessage', () => {
  let a: PublicKey;
  let b: PublicKey;
  let aeadKey: PublicKey;
  let aPrivate: openpgp.PrivateKey;
  const plain = new Uint8Array([1, 2, 3, 4]);
  const generate = (name: string, config: Partial<openpgp.Config> = {}) =>
    openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name }], format: 'object', config });

  beforeAll(async () => {
    const [ka, kb, kc] = await Promise.all([generate('a'), generate('b'), generate('aead', { aeadProtect: true })]);
    [a, b, aeadKey, aPrivate] = [ka.publicKey, kb.publicKey, kc.publicKey, ka.privateKey];
  });

  const encrypt = async (options: {
    keys?: PublicKey[];
    passwords?: string[];
    aead?: boolean;
    cipher?: openpgp.enums.symmetric;
  }): Promise<Uint8Array> =>
    // OpenPGP.js's stream-conditional result types do not resolve here: name the binary result.
    (await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: plain }),
      ...(options.keys ? { encryptionKeys: options.keys } : {}),
      ...(options.passwords ? { passwords: options.passwords } : {}),
      format: 'binary',
      config: {
        aeadProtect: options.aead ?? false,
        ...(options.cipher === undefined ? {} : { preferredSymmetricAlgorithm: options.cipher }),
      },
    })) as Uint8Array;

  /** PKESK v3 to `key` + an AEAD Encrypted Data packet (tag 20, OCB): the LibrePGP shape GnuPG 2.4 may write. */
  async function librePgpOcb(key: PublicKey): Promise<Uint8Array> {
    const sessionKey = crypto.getRandomValues(new Uint8Array(32));
    const message = await openpgp.encryptSessionKey({
      data: sessionKey,
      algorithm: 'aes256',
      encryptionKeys: [key],
      format: 'object',
    });
    // The typings hide these members of the packet classes (openpgp.js src/packet/aead_encrypted_data.js).
    const literal = new openpgp.LiteralDataPacket() as unknown as { setBytes(bytes: Uint8Array, format: number): void };
    literal.setBytes(plain, openpgp.enums.literal.binary);
    const data = new openpgp.AEADEncryptedDataPacket();
    const internals = data as unknown as {
      packets: openpgp.PacketList<openpgp.AnyPacket>;
      encrypt(algorithm: number, key: Uint8Array): Promise<void>;
    };
    Object.assign(data, { aeadAlgorithm: openpgp.enums.aead.ocb, cipherAlgorithm: openpgp.enums.symmetric.aes256 });
    internals.packets = new openpgp.PacketList();
    internals.packets.push(literal as unknown as openpgp.AnyPacket);
    await internals.encrypt(openpgp.enums.symmetric.aes256, sessionKey);
    message.packets.push(data);
    return message.write() as Uint8Array;
  }

  test('PKESK v3 per recipient + SEIPD v1, in either recipient order: accepted', async () => {
    expect(await checkGpgMessage(await encrypt({ keys: [a] }), { keys: [a] })).toBeUndefined();
    expect(await checkGpgMessage(await encrypt({ keys: [a, b] }), { keys: [a, b] })).toBeUndefined();
    expect(await checkGpgMessage(await encrypt({ keys: [b, a] }), { keys: [a, b] })).toBeUndefined();
  });

  test('SKESK v4 (AES-256, iterated SHA-256) + SEIPD v1 that decrypts to the plaintext: accepted', async () => {
    expect(
      await checkGpgMessage(await encrypt({ passwords: ['pw'] }), { passphrase: 'pw', plaintext: plain }),
    ).toBeUndefined();
  });

  test.each<[string, () => Promise<Uint8Array>, RegExp]>([
    [
      'a wrong passphrase',
      () => encrypt({ passwords: ['other'] }),
      /^OpenPGP\.js cannot decrypt it with the passphrase/,
    ],
    [
      'AES-128 instead of AES-256',
      () => encrypt({ passwords: ['pw'], cipher: openpgp.enums.symmetric.aes128 }),
      /^its passphrase packet names cipher 7 \(RFC 4880 §9\.2\), not AES-256 \(9\)$/,
    ],
    [
      'public keys instead of a passphrase',
      () => encrypt({ keys: [a] }),
      /^it does not hold exactly one SKESK version 4 packet before the data \(packet tags: 1, 18\)$/,
    ],
    [
      'a key besides the passphrase',
      () => encrypt({ keys: [a], passwords: ['pw'] }),
      /^it does not hold exactly one SKESK version 4 packet before the data \(packet tags: 1, 3, 18\)$/,
    ],
  ])('passphrase expected, %s: refused', async (_name, make, reason) => {
    expect(await checkGpgMessage(await make(), { passphrase: 'pw', plaintext: plain })).toMatch(reason);
  });

  test('passphrase expected, other bytes than the plaintext: refused', async () => {
    expect(
      await checkGpgMessage(await encrypt({ passwords: ['pw'] }), { passphrase: 'pw', plaintext: new Uint8Array([9]) }),
    ).toBe('it decrypts to other bytes than were encrypted');
  });

  test.each<[string, () => Promise<[Uint8Array, PublicKey[]]>, RegExp]>([
    [
      'a recipient left out',
      async () => [await encrypt({ keys: [a] }), [a, b]],
      /^1 of the 2 recipients got no session-key packet$/,
    ],
    [
      'an extra recipient',
      async () => [await encrypt({ keys: [a, b] }), [a]],
      /^it is addressed to key ID [0-9a-f]{16}, which is none of the recipients/,
    ],
    [
      'a stranger instead of the recipient',
      async () => [await encrypt({ keys: [b] }), [a]],
      /^it is addressed to key ID [0-9a-f]{16}, which is none/,
    ],
    [
      'a passphrase (SKESK) instead of public keys',
      async () => [await encrypt({ passwords: ['x'] }), [a]],
      /^it holds a session-key packet other than PKESK version 3 \(packet tags: 3, 18\)$/,
    ],
    [
      'a passphrase besides the key',
      async () => [await encrypt({ keys: [a], passwords: ['x'] }), [a]],
      /^it holds a session-key packet other than PKESK version 3 \(packet tags: 1, 3, 18\)$/,
    ],
    [
      'RFC 9580 PKESK v6 + SEIPD v2 (AEAD)',
      async () => [await encrypt({ keys: [aeadKey], aead: true }), [aeadKey]],
      /^its data packet is not a version 1 .*\(packet tags: 1, 18; last packet version 2\)$/,
    ],
    [
      'LibrePGP OCB (tag 20), as GnuPG 2.4 may write',
      async () => [await librePgpOcb(a), [a]],
      /^its data packet is not a version 1 Symmetrically Encrypted Integrity Protected Data packet \(packet tags: 1, 20; last packet version 1\)$/,
    ],
    [
      'not OpenPGP at all',
      () => Promise.resolve([new TextEncoder().encode('gpg: error\n'), [a]]),
      /^it is not an OpenPGP message OpenPGP\.js can read/,
    ],
    ['nothing', () => Promise.resolve([new Uint8Array(0), [a]]), /^it is not an OpenPGP message OpenPGP\.js can read/],
  ])('%s: refused', async (_name, make, reason) => {
    const [message, keys] = await make();
    expect(await checkGpgMessage(message, { keys })).toMatch(reason);
  });

  test('an accepted message decrypts with the recipient key (the check judges a real message)', async () => {
    const message = await encrypt({ keys: [a, b] });
    expect(await checkGpgMessage(message, { keys: [a, b] })).toBeUndefined();
    const decrypted = await openpgp.decrypt({
      message: await openpgp.readMessage({ binaryMessage: message }),
      decryptionKeys: aPrivate,
      format: 'binary',
    });
    expect(Buffer.from(decrypted.data as Uint8Array)).toEqual(Buffer.from(plain));
  });
});
