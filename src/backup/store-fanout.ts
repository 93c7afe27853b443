/**
 * The stores' side of a stream, shared by the dump (dump-stream.ts) and any other producer
 * (object-stream.ts): the claims of the new keys, and one upload per store fed by a fan-out, with a
 * progress line about every 15 s. A store that fails (or whose claim fails) drops out of the
 * fan-out while the others go on.
 */
import type { Readable } from 'node:stream';
import type { Log } from '../log.js';
import { startProgress, uploadProgressLine } from '../pipeline/progress.js';
import type { Fanout, Meter } from '../pipeline/stages.js';
import { claimKey, KeyTakenError, type Claim } from '../storage/claim.js';
import type { ObjectStore, UploadProgress, UploadResult } from '../storage/types.js';

/** Where a stream goes: `stores` and `keys` share their index. */
export interface StoreTargets {
  stores: ObjectStore[];
  keys: string[];
  contentType: string;
  /** Bytes expected, for the uploads' part sizes. */
  expectedBytes: number;
  signal?: AbortSignal | undefined;
  log: Log;
}

/** The claims of a stream's keys (storage/claim.ts). */
export interface Claims {
  /** Each store's claim as it is made. */
  claiming: Promise<Claim>[];
  /**
   * Every claim settled: each store's claim, or undefined where the store could not be asked (its
   * error in `errors`, at its index). Rejects with KeyTakenError when a key is taken.
   */
  keysFree: Promise<(Claim | undefined)[]>;
  errors: unknown[];
}

/** Claims every key at once; a key taken rejects `keysFree`, another failure fails its store only. */
export function claimKeys(stores: ObjectStore[], keys: string[]): Claims {
  const errors: unknown[] = [];
  const claiming = stores.map((store, i) => claimKey(store, keys[i] as string));
  const keysFree = Promise.all(
    claiming.map((claim, i) =>
      claim.catch((error: unknown) => {
        if (error instanceof KeyTakenError) throw error;
        errors[i] = error;
        return undefined;
      }),
    ),
  );
  return { claiming, keysFree, errors };
}

/**
 * Starts every store's upload of its fan-out output, with a progress line about every 15 s while
 * `meter` counts the bytes. An upload that fails, or a claim that fails (other than a key taken),
 * drops its output from the fan-out.
 */
export function startUploads(
  targets: StoreTargets,
  fanout: Fanout,
  meter: Meter,
  claiming: Promise<Claim>[],
): Promise<UploadResult>[] {
  const { stores, keys, contentType, expectedBytes, signal, log } = targets;
  const uploadProgress = stores.map((): UploadProgress => ({}));
  const uploads = stores.map((store, i) =>
    store.upload(keys[i] as string, fanout.outputs[i] as Readable, {
      contentType,
      expectedBytes,
      ...(signal ? { signal } : {}),
      progress: uploadProgress[i] as UploadProgress,
    }),
  );
  // A line about every 15 s while the stream flows, so a slow or stalled store shows in the log.
  const progress = startProgress(
    log,
    () => meter.bytes,
    (start, previous, now) =>
      uploadProgressLine(
        start,
        previous,
        now,
        stores.map((store, i) => ({
          where: store.destination.url,
          ...(uploadProgress[i]?.stored?.() ?? { bytes: 0 }),
        })),
      ),
  );
  const stop = (): void => progress.stop();
  Promise.allSettled(uploads).then(stop, stop);
  const drop = (i: number, error: unknown): void => {
    fanout.outputs[i]?.destroy(error instanceof Error ? error : new Error(String(error)));
  };
  // A store that gives up stops reading its stream: drop it from the fan-out so the others go on.
  uploads.forEach((upload, i) => void upload.catch((error: unknown) => drop(i, error)));
  // So does a store whose claim could not be made: its upload must not complete.
  claiming.forEach(
    (claim, i) =>
      void claim.catch((error: unknown) => {
        if (!(error instanceof KeyTakenError)) drop(i, error);
      }),
  );
  return uploads;
}
