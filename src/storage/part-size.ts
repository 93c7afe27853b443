/**
 * Multipart part sizing. All sizes are in bytes.
 *
 * Limits from the AWS S3 user guide, "Amazon S3 multipart upload limits":
 * - at most 10,000 parts per upload;
 * - each part 5 MiB to 5 GiB, except the last part, which may be smaller.
 *
 * An upload (multipart.ts) keeps a fixed pool of part buffers, so it holds at most
 * `partSize × (queueSize + 1)` bytes (the parts in flight plus the one being filled).
 * A fixed part size therefore caps the archive size (8 MiB × 10,000 ≈ 78 GiB): given an estimate of
 * the archive size, parts grow so that four times the estimate still fits in 10,000 parts, and the
 * number of parts in flight shrinks when parts grow so memory stays bounded.
 */

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** S3: most parts in one multipart upload. */
export const MAX_PARTS = 10_000;
/** S3: smallest part (all but the last). */
export const MIN_PART_SIZE = 5 * MiB;
/** S3: largest part. */
export const MAX_PART_SIZE = 5 * GiB;

/** Part size without an estimate (or for small ones): holds archives up to ≈ 78 GiB. */
export const DEFAULT_PART_SIZE = 8 * MiB;
/** Parts uploaded concurrently by default. */
export const DEFAULT_QUEUE_SIZE = 4;
/**
 * The estimate is multiplied by this before sizing parts: the estimate (e.g. pg_database_size) can
 * be wrong, and the database grows between the estimate and future runs. Compressed dumps are
 * usually much smaller than the database, so this is generous.
 */
export const SIZE_HEADROOM = 4;
/** Memory the part buffers may use before concurrency is reduced (never below one part in flight). */
export const MEMORY_BUDGET = 512 * MiB;

export interface MultipartPlan {
  /** Bytes per part (all parts but the last). A whole number of MiB, 5 MiB ≤ partSize ≤ 5 GiB. */
  partSize: number;
  /** Parts uploaded concurrently, 1…4. */
  queueSize: number;
}

/**
 * Part size and concurrency for an upload whose size is expected to be about `expectedBytes`
 * (bytes; undefined, 0 or not a finite number when unknown).
 *
 * - No estimate: 8 MiB parts, 4 in flight (≈ 40 MiB of buffers).
 * - With an estimate: the smallest whole number of MiB ≥ 8 MiB such that
 *   `expectedBytes × 4 ≤ partSize × 10,000`, capped at 5 GiB (beyond ≈ 13.4 TB the headroom shrinks; the
 *   estimate itself still fits up to ≈ 53.7 TB).
 * - Queue: 4, reduced so that `partSize × (queueSize + 1)` stays within 512 MiB, but at least 1.
 */
export function multipartPlan(expectedBytes?: number): MultipartPlan {
  let partSize = DEFAULT_PART_SIZE;
  if (expectedBytes !== undefined && Number.isFinite(expectedBytes) && expectedBytes > 0) {
    const needed = Math.ceil((expectedBytes * SIZE_HEADROOM) / MAX_PARTS);
    const wholeMiB = Math.ceil(needed / MiB) * MiB;
    partSize = Math.min(MAX_PART_SIZE, Math.max(DEFAULT_PART_SIZE, wholeMiB));
  }
  const queueSize = Math.max(1, Math.min(DEFAULT_QUEUE_SIZE, Math.floor(MEMORY_BUDGET / partSize) - 1));
  return { partSize, queueSize };
}
