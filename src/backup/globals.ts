/** The globals of a backup (roles, tablespaces): dumped by pg_dumpall, stored beside the archive. */
import { createHash } from 'node:crypto';
import type { EncryptionConfig } from '../crypto/specs.js';
import type { Log } from '../log.js';
import type { Manifest } from '../manifest.js';
import type { Dumper } from '../postgres/dumper.js';
import { buildPgDumpallGlobalsArgs } from '../postgres/dump-args.js';
import { dumpFailure } from '../postgres/dump-failure.js';
import { libpqEnv } from '../postgres/libpq.js';
import type { Connection } from '../postgres/types.js';
import { globalsKey } from '../storage/keys.js';
import { putOwn } from '../storage/put-own.js';
import type { ObjectStore } from '../storage/types.js';
import { encryptBuffer } from './encryption.js';

/** What {@link storeGlobals} needs; `stores`, `keys`, `stored` and `written` share their index. */
export interface GlobalsPlan {
  dumper: Dumper;
  connection: Connection;
  /** Encrypted like the archive; undefined = not encrypted. */
  encryption: EncryptionConfig | undefined;
  stores: ObjectStore[];
  /** The archive keys; the globals go beside them ({@link globalsKey}). */
  keys: string[];
  /** Which stores hold the verified archive: only those get the globals. */
  stored: boolean[];
  /** Set to true at a store's index once its globals are written (so a later failure removes them). */
  written: boolean[];
  log: Log;
}

/**
 * Dumps the globals, encrypts them as the archive is, and writes them beside the archive in every
 * store that holds it (exclusive create, {@link putOwn}).
 * @returns the manifest's `globals` (key beside the first destination's archive, bytes, sha256 of
 *   what is stored).
 * @throws DumpError when pg_dumpall fails, UploadError when a store refuses the object.
 */
export async function storeGlobals(plan: GlobalsPlan): Promise<NonNullable<Manifest['globals']>> {
  const { encryption, stores, keys } = plan;
  const plain = await dumpGlobals(plan.dumper, plan.connection);
  const data = encryption ? await encryptBuffer(plain, encryption) : plain;
  const sha256 = createHash('sha256').update(data).digest('hex');
  const key = globalsKey(keys[0] as string);
  for (const [i, store] of stores.entries()) {
    if (!plan.stored[i]) continue;
    await putOwn(
      store,
      globalsKey(keys[i] as string),
      data,
      encryption ? 'application/pgp-encrypted' : 'application/sql',
    );
    plan.written[i] = true;
  }
  plan.log.info(
    `Globals (roles, tablespaces; no role passwords): ${data.length} bytes${encryption ? ', encrypted' : ''}.`,
  );
  return { key, bytes: data.length, sha256 };
}

/** `pg_dumpall --globals-only --no-role-passwords`, buffered (a few KB). */
async function dumpGlobals(dumper: Dumper, connection: Connection): Promise<Buffer> {
  const child = dumper.start(
    'pg_dumpall',
    [...buildPgDumpallGlobalsArgs(), `--database=${connection.database}`],
    libpqEnv(connection),
  );
  const chunks: Buffer[] = [];
  if (!child.stdout) throw new Error('pg_dumpall was started without a stdout');
  for await (const chunk of child.stdout) chunks.push(chunk as Buffer);
  await child.done.catch((error: unknown) => {
    throw dumpFailure(error, connection);
  });
  return Buffer.concat(chunks);
}
