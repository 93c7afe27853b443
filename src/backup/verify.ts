import { VerifyError } from '../errors.js';
import { hashObject } from '../storage/read.js';
import type { ObjectStore } from '../storage/types.js';

/**
 * HeadObject (or stat) the stored archive and compare with what was streamed (size, and the ETag
 * the upload was answered with, when the store sent one: another writer's object has another); a
 * local file is re-hashed.
 */
export async function verifyArchive(
  store: ObjectStore,
  key: string,
  expected: { bytes: number; sha256: string },
  etag?: string,
): Promise<void> {
  const info = await store.head(key);
  const where = `${store.destination.url}: ${key}`;
  if (!info) throw new VerifyError(`${where} is missing after the upload completed; the store did not keep it.`);
  if (etag !== undefined && info.etag !== undefined && info.etag !== etag) {
    throw new VerifyError(
      `${where} has ETag ${info.etag} but the upload was answered with ${etag}: another writer replaced the archive after this run stored it.`,
    );
  }
  if (info.size !== expected.bytes) {
    throw new VerifyError(
      `${where} holds ${info.size} bytes but ${expected.bytes} were streamed; the stored archive is incomplete.`,
    );
  }
  if (store.destination.kind === 'file') {
    const { sha256 } = await hashObject(store, key);
    if (sha256 !== expected.sha256)
      throw new VerifyError(`${where} has sha256 ${sha256} but ${expected.sha256} was streamed.`);
  }
}
