import * as openpgp from 'openpgp';
import { ConfigError } from '../../src/errors.js';
import type { DecryptionConfig } from '../../src/crypto/openpgp.js';
import { ENCRYPTION_INPUTS, encryptionSecrets } from '../../src/config/encryption.js';
import { parseDecryptionInputs, parseEncryptionInputs } from '../../src/config/openpgp-inputs.js';
import { decryptionMismatch } from '../../src/crypto/specs.js';
import { resolveConfig } from '../../src/config/parse.js';

const reader =
  (values: Record<string, string>) =>
  (name: string): string =>
    values[name] ?? '';

const userIDs = [{ name: 'Backups', email: 'backups@example.com' }];

interface Pair {
  publicKey: string;
  privateKey: string;
  fingerprint: string;
}

async function pair(options: Record<string, unknown>): Promise<Pair> {
  const { publicKey, privateKey } = await openpgp.generateKey({ userIDs, format: 'armored', ...options } as never);
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return {
    publicKey: publicKey,
    privateKey: privateKey,
    fingerprint: key.getFingerprint().toUpperCase(),
  };
}

async function expectConfigError(promise: Promise<unknown>, input: string, message: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).input).toBe(input);
  expect((caught as ConfigError).message).toBe(message);
  expect((caught as ConfigError).phase).toBe('config');
}

let ecc: Pair;
let rsa: Pair;
let lockedRsa: Pair;
let expired: Pair;
let expiredSubkey: Pair;
let signOnly: Pair;
let revoked: string;
let v6: Pair;
let x25519: Pair;

beforeAll(async () => {
  const hourAgo = new Date(Date.now() - 3600_000);
  [ecc, rsa, lockedRsa, expired, expiredSubkey, signOnly, v6, x25519] = await Promise.all([
    pair({ type: 'ecc', curve: 'curve25519Legacy' }),
    pair({ type: 'rsa', rsaBits: 2048 }),
    pair({ type: 'rsa', rsaBits: 2048, passphrase: 'unlock me please' }),
    // keyExpirationTime is in seconds from the creation date: expired 59 minutes ago.
    pair({ type: 'ecc', keyExpirationTime: 60, date: hourAgo }),
    pair({ type: 'ecc', subkeys: [{ keyExpirationTime: 60 }], date: hourAgo }),
    // An EdDSA primary key (sign + certify) and no subkey: OpenPGP.js generates it.
    pair({ type: 'ecc', subkeys: [] }),
    pair({ type: 'curve25519', config: { v6Keys: true } }),
    // A version 4 key with an RFC 9580 X25519 encryption subkey (algorithm 25).
    pair({ type: 'curve25519' }),
  ]);
  const { publicKey } = await openpgp.revokeKey({
    key: await openpgp.readPrivateKey({ armoredKey: ecc.privateKey }),
    format: 'armored',
  });
  revoked = publicKey;
}, 60_000);

describe('ENCRYPTION_INPUTS', () => {
  test('names the five inputs, every default empty, every one described', () => {
    expect(ENCRYPTION_INPUTS.map((i) => i.name)).toEqual([
      'encryption-public-key',
      'encryption-passphrase',
      'decryption-private-key',
      'decryption-private-key-passphrase',
      'decryption-passphrase',
    ]);
    for (const input of ENCRYPTION_INPUTS) {
      expect(input.default).toBe('');
      expect(input.description.length).toBeGreaterThan(40);
    }
  });
});

describe('parseEncryptionInputs: valid inputs', () => {
  test('nothing set: no encryption', async () => {
    await expect(parseEncryptionInputs(reader({}))).resolves.toBeUndefined();
  });

  test('one ECC key (curve25519) → its fingerprint, upper-case hex', async () => {
    const config = await parseEncryptionInputs(reader({ 'encryption-public-key': `\n${ecc.publicKey}\n` }));
    expect(config).toMatchObject({ mode: 'public-key', recipients: [ecc.fingerprint] });
    expect(ecc.fingerprint).toMatch(/^[0-9A-F]{40}$/);
  });

  test('two armored blocks (ECC + RSA-2048) → two recipients in order; a repeated key counts once', async () => {
    const value = [ecc.publicKey, rsa.publicKey, ecc.publicKey].join('\n');
    const config = await parseEncryptionInputs(reader({ 'encryption-public-key': value }));
    expect(config).toMatchObject({ mode: 'public-key', recipients: [ecc.fingerprint, rsa.fingerprint] });
    expect(config?.mode === 'public-key' && config.keys.length).toBe(2);
  });

  test('one armored block holding two keys → two recipients', async () => {
    const keys = await Promise.all([ecc.publicKey, rsa.publicKey].map((armoredKey) => openpgp.readKey({ armoredKey })));
    const bytes = Buffer.concat(keys.map((k) => Buffer.from(k.write())));
    const block = openpgp.armor(openpgp.enums.armor.publicKey, new Uint8Array(bytes));
    const config = await parseEncryptionInputs(reader({ 'encryption-public-key': block }));
    expect(config).toMatchObject({ mode: 'public-key', recipients: [ecc.fingerprint, rsa.fingerprint] });
  });

  test('a passphrase → passphrase mode', async () => {
    await expect(
      parseEncryptionInputs(reader({ 'encryption-passphrase': ' correct horse battery staple ' })),
    ).resolves.toEqual({
      mode: 'passphrase',
      passphrase: 'correct horse battery staple',
    });
  });
});

describe('parseEncryptionInputs: bad inputs fail before any work, with exact messages', () => {
  const input = 'encryption-public-key';

  test('both a public key and a passphrase', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ 'encryption-public-key': ecc.publicKey, 'encryption-passphrase': 'x' })),
      'encryption-passphrase',
      "Input 'encryption-passphrase': is set together with encryption-public-key; set only one of them. encryption-public-key is recommended: the backup runner then never holds what decrypts the archives.",
    );
  });

  test('garbage', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx backups@example.com' })),
      input,
      "Input 'encryption-public-key': is not an ASCII-armored OpenPGP key (no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line found); export it with `gpg --armor --export <key id>` and store the whole output, BEGIN and END lines included.",
    );
  });

  test('the armored key base64-encoded once more', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: Buffer.from(ecc.publicKey).toString('base64') })),
      input,
      "Input 'encryption-public-key': is not an ASCII-armored OpenPGP key (no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line found); export it with `gpg --armor --export <key id>` and store the whole output, BEGIN and END lines included. It looks base64-encoded: store the armored text itself, not its base64.",
    );
  });

  test('a key whose line breaks were written as \\n', async () => {
    await expectConfigError(
      parseEncryptionInputs(
        reader({
          [input]: ecc.publicKey.replace(/-----BEGIN PGP PUBLIC KEY BLOCK-----/, '----- BEGIN').replace(/\n/g, '\\n'),
        }),
      ),
      input,
      "Input 'encryption-public-key': is not an ASCII-armored OpenPGP key (no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line found); export it with `gpg --armor --export <key id>` and store the whole output, BEGIN and END lines included. Its line breaks look written as \\n: store it with real line breaks (e.g. `gh secret set NAME < key.asc`).",
    );
  });

  test('a block cut off before its END line', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: ecc.publicKey.slice(0, 200) })),
      input,
      "Input 'encryption-public-key': block 1 has no '-----END PGP PUBLIC KEY BLOCK-----' line: the key was cut off. Store the whole output of `gpg --armor --export <key id>`, BEGIN and END lines included.",
    );
  });

  test('a block whose body was cut', async () => {
    const lines = ecc.publicKey.trim().split('\n');
    const cut = [...lines.slice(0, 4), lines[lines.length - 1]].join('\n');
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: cut })),
      input,
      "Input 'encryption-public-key': the key could not be read as an OpenPGP key (Unexpected end of packet); it is damaged or incomplete. Export it again with `gpg --armor --export <key id>` and store the whole output.",
    );
  });

  test('a private key where the public key belongs', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: ecc.privateKey })),
      input,
      "Input 'encryption-public-key': the key is a private key (-----BEGIN PGP PRIVATE KEY BLOCK-----); this input takes public keys only, so that the backup runner never holds what decrypts. Export the public half with `gpg --armor --export <key id>` and give the private key only to restores (decryption-private-key).",
    );
  });

  test('an expired key', async () => {
    const expiry = (await (await openpgp.readKey({ armoredKey: expired.publicKey })).getExpirationTime()) as Date;
    const f = expired.fingerprint;
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: expired.publicKey })),
      input,
      `Input 'encryption-public-key': key ${f} expired on ${expiry.toISOString()}; extend it with \`gpg --quick-set-expire ${f} 2y\` and \`gpg --quick-set-expire ${f} 2y '*'\` (its subkeys), then export it again with \`gpg --armor --export ${f}\`.`,
    );
  });

  test('a key whose encryption subkey expired', async () => {
    const f = expiredSubkey.fingerprint;
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: expiredSubkey.publicKey })),
      input,
      `Input 'encryption-public-key': key ${f} has no valid encryption subkey: its encryption subkey has expired. Extend it with \`gpg --quick-set-expire ${f} 2y '*'\`, then export it again with \`gpg --armor --export ${f}\`.`,
    );
  });

  test('a sign-only key (no encryption subkey)', async () => {
    const f = signOnly.fingerprint;
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: signOnly.publicKey })),
      input,
      `Input 'encryption-public-key': key ${f} has no encryption-capable key or subkey (it can only sign or certify); add one with \`gpg --quick-add-key ${f} default encrypt\` and export it again with \`gpg --armor --export ${f}\`, or use another key.`,
    );
  });

  test('a revoked key', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: revoked })),
      input,
      `Input 'encryption-public-key': key ${ecc.fingerprint} is revoked; use another key.`,
    );
  });

  test('a version 6 (RFC 9580) key, which gpg 2.2 cannot use', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: v6.publicKey })),
      input,
      `Input 'encryption-public-key': key ${v6.fingerprint} is a version 6 key; archives are RFC 4880 messages that gpg 2.2 reads, which need a version 4 key. Make one with \`gpg --quick-gen-key 'Backups <backups@example.com>' default default never\`.`,
    );
  });

  test('a version 4 key whose encryption subkey is X25519 (RFC 9580), which gpg 2.2 cannot use', async () => {
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: x25519.publicKey })),
      input,
      `Input 'encryption-public-key': key ${x25519.fingerprint} encrypts with X25519 (RFC 9580), which gpg 2.2 cannot decrypt; use an RSA or Curve25519 (cv25519) key made with \`gpg --quick-gen-key 'Backups <backups@example.com>' future-default default never\`.`,
    );
  });

  test('two keys where the second is bad: the block is named', async () => {
    const f = expired.fingerprint;
    const expiry = (await (await openpgp.readKey({ armoredKey: expired.publicKey })).getExpirationTime()) as Date;
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: `${rsa.publicKey}\n${expired.publicKey}` })),
      input,
      `Input 'encryption-public-key': key ${f} (block 2 of 2) expired on ${expiry.toISOString()}; extend it with \`gpg --quick-set-expire ${f} 2y\` and \`gpg --quick-set-expire ${f} 2y '*'\` (its subkeys), then export it again with \`gpg --armor --export ${f}\`.`,
    );
  });

  test('two blocks where the second is garbage inside its armor', async () => {
    const garbage =
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5IGF0IGFsbA==\n-----END PGP PUBLIC KEY BLOCK-----';
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: `${ecc.publicKey}\n${garbage}` })),
      input,
      "Input 'encryption-public-key': block 2 of 2 could not be read as an OpenPGP key (Error during parsing. This message / key probably does not conform to a valid OpenPGP format); it is damaged or incomplete. Export it again with `gpg --armor --export <key id>` and store the whole output.",
    );
  });

  test('an armored message instead of a key', async () => {
    // An armored message is a string (OpenPGP.js's stream-conditional result type does not resolve here).
    const message = (await openpgp.encrypt({
      message: await openpgp.createMessage({ text: 'hello' }),
      passwords: ['x'],
    })) as string;
    await expectConfigError(
      parseEncryptionInputs(reader({ [input]: message })),
      input,
      "Input 'encryption-public-key': the key is a PGP MESSAGE, not a public key; export the key with `gpg --armor --export <key id>`.",
    );
  });

  test('no message quotes the key material', async () => {
    const body = ecc.publicKey.split('\n').find((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l)) as string;
    let message = '';
    try {
      await parseEncryptionInputs(reader({ [input]: ecc.privateKey }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toBe(''); // it was refused
    expect(message).not.toContain(body.slice(0, 24));
    expect(message).not.toContain('BEGIN PGP PRIVATE KEY BLOCK-----\n');
  });
});

describe('parseDecryptionInputs', () => {
  test('nothing set: no decryption', async () => {
    await expect(parseDecryptionInputs(reader({}))).resolves.toBeUndefined();
  });

  test('an unprotected ECC private key', async () => {
    const config = await parseDecryptionInputs(reader({ 'decryption-private-key': ecc.privateKey }));
    expect(config).toMatchObject({ mode: 'private-key', fingerprints: [ecc.fingerprint] });
  });

  test('a protected RSA key with its passphrase is unlocked', async () => {
    const config = await parseDecryptionInputs(
      reader({
        'decryption-private-key': lockedRsa.privateKey,
        'decryption-private-key-passphrase': 'unlock me please',
      }),
    );
    expect(config?.mode).toBe('private-key');
    expect(config?.mode === 'private-key' && config.keys[0]?.isDecrypted()).toBe(true);
  });

  test('an expired private key is accepted: it must still decrypt the archives it received', async () => {
    await expect(
      parseDecryptionInputs(reader({ 'decryption-private-key': expired.privateKey })),
    ).resolves.toMatchObject({
      fingerprints: [expired.fingerprint],
    });
  });

  test('a passphrase', async () => {
    await expect(parseDecryptionInputs(reader({ 'decryption-passphrase': 'pw' }))).resolves.toEqual({
      mode: 'passphrase',
      passphrase: 'pw',
    });
  });

  test('a public key where the private key belongs', async () => {
    await expectConfigError(
      parseDecryptionInputs(reader({ 'decryption-private-key': rsa.publicKey })),
      'decryption-private-key',
      "Input 'decryption-private-key': the key is a public key (-----BEGIN PGP PUBLIC KEY BLOCK-----); decryption needs the private key: export it with `gpg --armor --export-secret-keys <key id>`. (The public key goes to encryption-public-key, in the backup workflow.)",
    );
  });

  test('a protected key without its passphrase', async () => {
    await expectConfigError(
      parseDecryptionInputs(reader({ 'decryption-private-key': lockedRsa.privateKey })),
      'decryption-private-key-passphrase',
      `Input 'decryption-private-key-passphrase': is not set, but key ${lockedRsa.fingerprint} in decryption-private-key is protected by a passphrase; set decryption-private-key-passphrase from a secret holding it.`,
    );
  });

  test('a protected key with a wrong passphrase', async () => {
    await expectConfigError(
      parseDecryptionInputs(
        reader({ 'decryption-private-key': lockedRsa.privateKey, 'decryption-private-key-passphrase': 'nope' }),
      ),
      'decryption-private-key-passphrase',
      `Input 'decryption-private-key-passphrase': does not unlock key ${lockedRsa.fingerprint} in decryption-private-key: wrong passphrase. Check the secret; \`gpg --export-secret-keys\` keeps the key's own passphrase.`,
    );
  });

  test('a sign-only private key', async () => {
    const f = signOnly.fingerprint;
    await expectConfigError(
      parseDecryptionInputs(reader({ 'decryption-private-key': signOnly.privateKey })),
      'decryption-private-key',
      `Input 'decryption-private-key': key ${f} has no usable secret encryption key or subkey (it can only sign or certify); export the private key that holds the encryption subkey with \`gpg --armor --export-secret-keys ${f}\`.`,
    );
  });

  test('both a private key and a passphrase', async () => {
    await expectConfigError(
      parseDecryptionInputs(reader({ 'decryption-private-key': ecc.privateKey, 'decryption-passphrase': 'pw' })),
      'decryption-passphrase',
      "Input 'decryption-passphrase': is set together with decryption-private-key; set only the one that matches how the archives were encrypted (encryption-public-key → decryption-private-key, encryption-passphrase → decryption-passphrase).",
    );
  });

  test('a key passphrase without a key', async () => {
    await expectConfigError(
      parseDecryptionInputs(reader({ 'decryption-private-key-passphrase': 'pw' })),
      'decryption-private-key-passphrase',
      "Input 'decryption-private-key-passphrase': is set but decryption-private-key is not; set decryption-private-key to the private key this passphrase unlocks (`gpg --armor --export-secret-keys <key id>`).",
    );
  });

  test('garbage', async () => {
    await expectConfigError(
      parseDecryptionInputs(reader({ 'decryption-private-key': 'hunter2' })),
      'decryption-private-key',
      "Input 'decryption-private-key': is not an ASCII-armored OpenPGP key (no '-----BEGIN PGP PRIVATE KEY BLOCK-----' line found); export it with `gpg --armor --export-secret-keys <key id>` and store the whole output, BEGIN and END lines included.",
    );
  });
});

describe('encryptionSecrets', () => {
  test('masks each value, each armored block, each base64 line and the passphrases', () => {
    const value = `${ecc.privateKey}\n${rsa.privateKey}`;
    const secrets = encryptionSecrets(
      reader({
        'decryption-private-key': value,
        'decryption-private-key-passphrase': 'key pass',
        'encryption-passphrase': ' enc pass ',
      }),
    );
    expect(secrets).toContain(value.trim());
    expect(secrets).toContain(ecc.privateKey.trim());
    expect(secrets).toContain(rsa.privateKey.trim());
    for (const line of rsa.privateKey.split('\n').filter((l) => /^[A-Za-z0-9+/]{40,}$/.test(l)))
      expect(secrets).toContain(line);
    expect(secrets).toEqual(expect.arrayContaining(['key pass', 'enc pass', ' enc pass ']));
    expect(secrets.every((s) => s.length > 0)).toBe(true);
    expect(secrets).not.toContain('-----BEGIN PGP PRIVATE KEY BLOCK-----');
  });

  test('nothing set: nothing to mask', () => {
    expect(encryptionSecrets(reader({}))).toEqual([]);
  });
});

describe('decryptionMismatch: judged from the manifest before the target is touched', () => {
  const key = (...fingerprints: string[]): DecryptionConfig => ({ mode: 'private-key', keys: [], fingerprints });
  const passphrase: DecryptionConfig = { mode: 'passphrase', passphrase: 'x' };
  test.each<
    [string, { mode: 'public-key' | 'passphrase'; recipients: string[] }, DecryptionConfig, string | undefined]
  >([
    ['passphrase archive, passphrase given', { mode: 'passphrase', recipients: [] }, passphrase, undefined],
    [
      'passphrase archive, private key given',
      { mode: 'passphrase', recipients: [] },
      key('AA11'),
      'the archive was encrypted with a passphrase, not to public keys; set decryption-passphrase',
    ],
    [
      'public-key archive, passphrase given',
      { mode: 'public-key', recipients: ['AA11'] },
      passphrase,
      'the archive was encrypted to public key(s) AA11, not with a passphrase; set decryption-private-key',
    ],
    ['one of two recipients given', { mode: 'public-key', recipients: ['AA11', 'BB22'] }, key('BB22'), undefined],
    [
      'one of the keys given is a recipient',
      { mode: 'public-key', recipients: ['AA11'] },
      key('CC33', 'AA11'),
      undefined,
    ],
    [
      'no key given is a recipient',
      { mode: 'public-key', recipients: ['AA11'] },
      key('CC33', 'DD44'),
      'the archive was encrypted to AA11 (its manifest), and the key given (CC33, DD44) is none of them',
    ],
    ['recipients not recorded: not judged', { mode: 'public-key', recipients: [] }, key('CC33'), undefined],
  ])('%s', (_name, encryption, decryption, expected) => {
    const problem = decryptionMismatch(encryption, decryption);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(expected);
  });
});

describe('resolveConfig: each command reads only the OpenPGP inputs it uses', () => {
  const source = { destination: 'file:///backups' };
  const target = { 'target-database-url': 'postgres://u@db.example.com/scratch' };
  const base: Record<string, Record<string, string>> = {
    backup: { ...source, 'database-url': 'postgres://u@db.example.com/app' },
    restore: { ...source, ...target, database: 'app' },
    drill: { ...source, ...target, database: 'app' },
    check: { ...source, database: 'app' },
    list: { ...source, database: 'app' },
    prune: { ...source, database: 'app', 'keep-last': '3' },
  };
  const resolve = (inputs: Record<string, string>) => resolveConfig((name) => inputs[name] ?? '');
  const longPassphrase = 'a long enough passphrase for backups';

  test.each([
    ['backup', 'encryption-public-key', 'not a key'],
    ['restore', 'decryption-private-key', 'not a key'],
    ['drill', 'decryption-private-key', 'not a key'],
  ] as const)('%s: a bad %s, which it uses, is refused', async (command, input, value) => {
    await expect(resolve({ ...base[command], command, [input]: value })).rejects.toMatchObject({ input });
  });

  test.each(['check', 'list', 'prune'] as const)(
    '%s: encryption and decryption inputs are not read',
    async (command) => {
      const config = await resolve({
        ...base[command],
        command,
        'decryption-private-key': 'not a key',
        'encryption-public-key': 'not a key',
      });
      expect(config.command).toBe(command);
      expect(config).not.toHaveProperty('encryption');
      expect(config).not.toHaveProperty('decryption');
    },
  );

  test('backup does not read the decryption inputs, nor restore the encryption inputs', async () => {
    const encrypted = await resolve({
      ...base['backup'],
      command: 'backup',
      'decryption-private-key': 'not a key',
      'encryption-passphrase': longPassphrase,
    });
    expect(encrypted).toMatchObject({ encryption: { mode: 'passphrase' } });
    expect(encrypted).not.toHaveProperty('decryption');

    const decrypting = await resolve({
      ...base['restore'],
      command: 'restore',
      'encryption-public-key': 'not a key',
      'decryption-passphrase': longPassphrase,
    });
    expect(decrypting).toMatchObject({ decryption: { mode: 'passphrase' } });
    expect(decrypting).not.toHaveProperty('encryption');
  });
});
