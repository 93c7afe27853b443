/**
 * Who owns an archive key: a small claim object per run beside the key, in the manner of restic's
 * lock files, so that two runs that picked the same key (two backups of one database started in
 * the same second) never both write it, even on a store that ignores `If-None-Match` (s3rver does).
 *
 * Protocol ({@link claimKey}), for a run R and archive key K:
 * 1. HeadObject K: an object exists → R fails ("already exists"), nothing written.
 * 2. R lists `K.claim-`: a live claim of another run is there → R waits (step 4). Else R writes its
 *    claim `K.claim-<yyyymmddThhmmssmmmZ>-<run id>` (an exclusive create).
 * 3. R lists `K.claim-`. If R's claim is the only one (claims older than {@link STALE_SECONDS} are
 *    ignored), R HEADs K once more and, if K is still free, owns K until it releases the claim.
 *    Otherwise, when R's claim is not the earliest of those listed, R deletes it.
 * 4. R waits a random 0.1–0.5 s × attempt and starts again at 1 (an earliest claim is kept, not
 *    written again); after {@link CLAIM_ATTEMPTS} attempts it fails ("another run holds the key").
 *
 * Why at most one run owns K, on a store with read-after-write consistent listings (AWS S3 since
 * December 2020, R2, MinIO, a folder): if R and S both saw only their own claim, then R's listing
 * missed S's claim, so S wrote it after R listed, hence after R's claim existed; S's listing came
 * after that and saw R's claim (R keeps it while it owns K). Contradiction. The HEAD in step 3 covers
 * an owner that already finished and released its claim: its archive (and manifest) exist before
 * the release. The argument holds for a claim kept across rounds too: it exists from its write until
 * its release. Two runs that see each other do not both back off: the later claim withdraws, and
 * the earliest, kept, is alone in a later listing.
 *
 * The claim is released (deleted) once the run wrote the manifest, or failed without writing the
 * archive. A run that stored the archive but not its manifest keeps the claim: beside an archive
 * without manifest it marks the archive as this action's (the folder equivalent of the S3 metadata
 * marker; see docs/retention.md). Claims of killed runs are removed by a later run once older than
 * {@link STALE_SECONDS} (see catalog.ts).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { UploadError, errorMessage } from '../errors.js';
import type { ObjectStore } from './types.js';

/** Separator between an archive key and its claims' suffix. */
export const CLAIM_INFIX = '.claim-';
/** Temporary files and claims older than this (seconds; 24 h) are left by dead runs: ignored and removed. */
export const STALE_SECONDS = 24 * 3600;
/** Rounds of claim → list before a run gives up on a contended key. */
export const CLAIM_ATTEMPTS = 5;

const CLAIM_SUFFIX = /\.claim-(\d{8}T\d{9}Z)-([0-9a-f]{12})$/;

/**
 * The key is someone else's: an object exists under it, or another run holds it. Nothing was
 * written under the key by this run.
 */
export class KeyTakenError extends UploadError {}

/** A key held by this run. */
export interface Claim {
  /** The archive key owned. */
  archiveKey: string;
  /** Key of the claim object. */
  key: string;
  /** Deletes the claim object (never throws; a claim that cannot be deleted goes stale and is removed later). */
  release(): Promise<void>;
}

/** `K.claim-20261207T011503123Z-0123456789ab` for archive key K, a time (ms) and a run id (12 hex digits). */
export function claimObjectKey(archiveKey: string, time: Date, runId: string): string {
  return `${archiveKey}${CLAIM_INFIX}${time.toISOString().replace(/[-:.]/g, '')}-${runId}`;
}

/** Reads a claim key back: its archive key and its time; undefined for any other key. */
export function parseClaimKey(key: string): { archiveKey: string; time: Date; runId: string } | undefined {
  const match = CLAIM_SUFFIX.exec(key);
  if (!match) return undefined;
  const stamp = match[1] as string;
  const time = new Date(
    Date.UTC(
      Number(stamp.slice(0, 4)),
      Number(stamp.slice(4, 6)) - 1,
      Number(stamp.slice(6, 8)),
      Number(stamp.slice(9, 11)),
      Number(stamp.slice(11, 13)),
      Number(stamp.slice(13, 15)),
      Number(stamp.slice(15, 18)),
    ),
  );
  if (Number.isNaN(time.getTime())) return undefined;
  return { archiveKey: key.slice(0, match.index), time, runId: match[2] as string };
}

/** The message when an object already exists under `key` (the run wrote nothing). */
export function keyExistsMessage(url: string, key: string): string {
  return `${url}: an object already exists at ${key}; another backup of this database started in the same second. Nothing was overwritten; use a concurrency group so backups of one database never overlap.`;
}

export interface ClaimOptions {
  /** Clock for the claim's name and staleness (default: the system clock). */
  now?: () => Date;
  /** Rounds before giving up (default {@link CLAIM_ATTEMPTS}). */
  attempts?: number;
  /** Milliseconds to wait before round `attempt` + 1 (default: random 100–500 ms × attempt). */
  backoffMs?: (attempt: number) => number;
}

/**
 * Makes this run the sole owner of `archiveKey` in `store` (protocol in this module's comment).
 *
 * @returns the claim; call `release()` once the manifest is written (or nothing was written).
 * @throws KeyTakenError when an object exists under the key ({@link keyExistsMessage}) or another
 *   run holds it after every round; UploadError when the store could not be asked (its message).
 */
export async function claimKey(store: ObjectStore, archiveKey: string, options: ClaimOptions = {}): Promise<Claim> {
  const now = options.now ?? (() => new Date());
  const attempts = options.attempts ?? CLAIM_ATTEMPTS;
  const backoff = options.backoffMs ?? ((attempt: number) => (100 + Math.random() * 400) * attempt);
  const url = store.destination.url;
  const runId = randomBytes(6).toString('hex');
  const asked = async <T>(request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      throw error instanceof UploadError ? error : new UploadError(errorMessage(error), { cause: error });
    }
  };
  const exists = async (): Promise<boolean> => (await asked(() => store.head(archiveKey))) !== undefined;

  let others: string[] = [];
  // This run's claim, kept across rounds while it is the earliest of the claims seen.
  let held: { key: string; release: () => Promise<void> } | undefined;
  const withdraw = async (): Promise<void> => {
    await held?.release();
    held = undefined;
  };
  // Any failure or a taken key withdraws this run's claim before it is thrown.
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (await exists()) throw new KeyTakenError(keyExistsMessage(url, archiveKey));
      if (!held) {
        // A live claim of another run is there already: a claim written now would be the later one
        // and withdraw, and its write would only stand in the earlier claimant's listings. Wait instead.
        others = await asked(() => liveClaims(store, archiveKey, '', now()));
        if (others.length > 0) {
          if (attempt < attempts) await sleep(backoff(attempt));
          continue;
        }
        const key = claimObjectKey(archiveKey, now(), runId);
        const body = `${JSON.stringify({ claim: archiveKey, run: runId, at: now().toISOString(), tool: 'postgres-backup-action' })}\n`;
        await asked(() => store.put(key, body, 'application/json'));
        held = { key, release: async () => void (await store.delete([key]).catch(() => undefined)) };
      }
      const own = held.key;
      others = await asked(() => liveClaims(store, archiveKey, own, now()));
      if (others.length === 0) {
        if (await exists()) throw new KeyTakenError(keyExistsMessage(url, archiveKey));
        return { archiveKey, key: own, release: held.release };
      }
      // Several runs claimed the key. The earliest claim (claim keys sort by time, then run id, and
      // every run sorts them alike) stays and waits for the others to withdraw; the others withdraw.
      // So two runs that see each other do not both back off round after round: the earliest owns
      // the key on a later round. Safety does not rest on this order: a run still goes ahead only
      // when its listing shows its own claim alone (see the module comment).
      if (!others.every((other) => own < other)) await withdraw();
      if (attempt < attempts) await sleep(backoff(attempt));
    }
  } catch (error) {
    await withdraw();
    throw error;
  }
  await withdraw();
  throw new KeyTakenError(
    `${url}: another run holds ${archiveKey} (its claim ${others[0]}); another backup of this database started in the same second. Nothing was written under that key; use a concurrency group so backups of one database never overlap.`,
  );
}

/** Claims of `archiveKey` other than `own`, except stale ones (older than {@link STALE_SECONDS}). */
async function liveClaims(store: ObjectStore, archiveKey: string, own: string, now: Date): Promise<string[]> {
  const found: string[] = [];
  for await (const object of store.list(`${archiveKey}${CLAIM_INFIX}`)) {
    if (object.key === own) continue;
    const parsed = parseClaimKey(object.key);
    if (!parsed || parsed.archiveKey !== archiveKey) continue;
    const time = object.lastModified ?? parsed.time;
    if (now.getTime() - time.getTime() > STALE_SECONDS * 1000) continue;
    found.push(object.key);
  }
  return found;
}
