/**
 * Progress lines for long transfers (the backup's upload, the restore's download): a line about
 * every {@link PROGRESS_INTERVAL_MS}, so a slow or stalled transfer is visible in the log while it
 * happens. The formatters are pure; {@link startProgress} is the timer.
 */
import { formatBytes, formatDuration } from '../format.js';
import type { Log } from '../log.js';

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
  const known = total !== undefined && total > 0;
  const of = known ? ` of ${formatBytes(total)} (${Math.floor((now.bytes / total) * 100)}%)` : '';
  const rates = `${formatRate(now.bytes - previous.bytes, now.at - previous.at)} (${formatRate(now.bytes - start.bytes, now.at - start.at)} overall)`;
  const eta = known ? etaText(total - now.bytes, now.bytes - start.bytes, now.at - start.at) : '';
  return `Downloading ${what}: ${formatBytes(now.bytes)}${of}, ${rates}${eta}`;
}

/** `, ETA 1m 05s` at the overall rate; '' before any byte has arrived or once all have. */
function etaText(left: number, done: number, ms: number): string {
  if (left <= 0 || done <= 0 || ms <= 0) return '';
  return `, ETA ${formatDuration(Math.ceil((left / done) * (ms / 1000)))}`;
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
  log: Pick<Log, 'info' | 'progress'>,
  bytes: () => number,
  line: (start: ProgressSample, previous: ProgressSample, now: ProgressSample) => string,
  intervalMs: number = PROGRESS_INTERVAL_MS,
): Progress {
  const start: ProgressSample = { bytes: bytes(), at: Date.now() };
  let previous = start;
  const sink = log.progress;
  const timer = setInterval(() => {
    const now: ProgressSample = { bytes: bytes(), at: Date.now() };
    if (sink) sink.update(line(start, previous, now));
    else log.info(line(start, previous, now));
    previous = now;
  }, sink?.intervalMs ?? intervalMs);
  timer.unref();
  let stopped = false;
  return {
    stop: () => {
      clearInterval(timer);
      if (!stopped) sink?.done();
      stopped = true;
    },
  };
}
