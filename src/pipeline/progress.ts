/**
 * Progress lines for long transfers (the backup's upload, the restore's download): a line about
 * every {@link PROGRESS_INTERVAL_MS}, so a slow or stalled transfer is visible in the log while it
 * happens. The formatters are pure; {@link startProgress} is the timer.
 */
import { formatBytes } from '../format.js';

/** Milliseconds between two progress lines. */
export const PROGRESS_INTERVAL_MS = 15_000;

/** `1.23 MB/s`: `bytes` over `ms` milliseconds, in decimal megabytes per second. */
export function formatRate(bytes: number, ms: number): string {
  const rate = ms > 0 ? bytes / 1e6 / (ms / 1000) : 0;
  return `${rate.toFixed(2)} MB/s`;
}

/** One sample of a transfer: bytes so far, at `at` (ms, any clock). */
export interface ProgressSample {
  bytes: number;
  at: number;
}

/** What one destination of a backup has stored so far. */
export interface StoredProgress {
  /** `s3://bucket/key`, a folder, … */
  where: string;
  /** Bytes the store accepted (parts done). */
  bytes: number;
  /** Parts the store accepted; undefined for stores without parts (folders). */
  parts?: number;
}

/**
 * The backup's line (pure): archive bytes handed to the stores, the rate since the previous line
 * and since the start, and per destination the parts done.
 * e.g. `Uploading: 52.4 MB of archive so far, 3.49 MB/s (3.20 MB/s overall); s3://b/db/x.dump: 4 parts done (41.9 MB)`
 */
export function uploadProgressLine(
  start: ProgressSample,
  previous: ProgressSample,
  now: ProgressSample,
  stored: StoredProgress[],
): string {
  const rates = `${formatRate(now.bytes - previous.bytes, now.at - previous.at)} (${formatRate(now.bytes - start.bytes, now.at - start.at)} overall)`;
  const stores = stored
    .filter((s) => s.parts !== undefined)
    .map((s) => `${s.where}: ${s.parts} part${s.parts === 1 ? '' : 's'} done (${formatBytes(s.bytes)})`);
  return `Uploading: ${formatBytes(now.bytes)} of archive so far, ${rates}${stores.length > 0 ? `; ${stores.join('; ')}` : ''}`;
}

/**
 * The restore's line (pure): bytes read of `total` (with the percentage when known), the rate
 * since the previous line and since the start.
 * e.g. `Downloading db/x.dump: 52.4 MB of 104.9 MB (50%), 3.49 MB/s (3.20 MB/s overall)`
 */
export function downloadProgressLine(
  what: string,
  start: ProgressSample,
  previous: ProgressSample,
  now: ProgressSample,
  total?: number,
): string {
  const of =
    total !== undefined && total > 0 ? ` of ${formatBytes(total)} (${Math.floor((now.bytes / total) * 100)}%)` : '';
  return `Downloading ${what}: ${formatBytes(now.bytes)}${of}, ${formatRate(now.bytes - previous.bytes, now.at - previous.at)} (${formatRate(now.bytes - start.bytes, now.at - start.at)} overall)`;
}

/** A running progress reporter; {@link stop} ends it (idempotent). */
export interface Progress {
  stop(): void;
}

/**
 * Every `intervalMs` (default {@link PROGRESS_INTERVAL_MS}) reads `bytes()` and logs
 * `line(start, previous, now)`. The timer is unref'd: it never keeps the process alive.
 */
export function startProgress(
  log: { info(message: string): void },
  bytes: () => number,
  line: (start: ProgressSample, previous: ProgressSample, now: ProgressSample) => string,
  intervalMs: number = PROGRESS_INTERVAL_MS,
): Progress {
  const start: ProgressSample = { bytes: bytes(), at: Date.now() };
  let previous = start;
  const timer = setInterval(() => {
    const now: ProgressSample = { bytes: bytes(), at: Date.now() };
    log.info(line(start, previous, now));
    previous = now;
  }, intervalMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
  };
}
