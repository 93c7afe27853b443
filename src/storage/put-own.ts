import { UploadError } from '../errors.js';
import type { ObjectStore } from './types.js';

/**
 * Writes a small object (manifest, globals) with an exclusive create, then checks with a HeadObject
 * that the object under the key is this write's (same size and, when the store answered one, same
 * ETag): a store that ignores `If-None-Match` would otherwise let another writer's object pass.
 * @throws UploadError when the key is taken or the object is not this write's.
 */
export async function putOwn(
  store: ObjectStore,
  key: string,
  data: string | Buffer,
  contentType: string,
): Promise<void> {
  const written = await store.put(key, data, contentType);
  const info = await store.head(key);
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (
    !info ||
    info.size !== bytes ||
    (written.etag !== undefined && info.etag !== undefined && info.etag !== written.etag)
  ) {
    throw new UploadError(
      `${store.destination.url}: the object under ${key} is not the one this run wrote (${info ? `${info.size} bytes, ETag ${info.etag ?? 'none'}` : 'missing'}; written ${bytes} bytes, ETag ${written.etag ?? 'none'}): another writer replaced it.`,
    );
  }
}
