/**
 * The files tap: the program that sits between GNU tar and the compressor
 * (`node dist/files-tap.js`, started by tap-tar.ts). It copies its stdin to its stdout unchanged
 * and fingerprints the tar archive on the way ({@link ListingCollector}); when stdin ends it writes
 * one stderr line `listing <JSON of ListingFingerprint>` and exits 0.
 *
 * Why a process of its own and synchronous reads and writes: on 2 cores this copy, the per-file
 * SHA-256 and the backup's own work (the compressed bytes' hash, the upload) then run side by
 * side, and a blocking read returns whatever tar has queued (100–220 KiB on average, measured)
 * where `tee` handed on 8 KiB at a time (docs/benchmarks.md "Files archive").
 */
import { readSync, writeSync } from 'node:fs';

import { errorMessage } from '../errors.js';
import { ListingCollector } from './fingerprint.js';

/** Bytes asked for per read; a read returns at most what is queued (a pipe holds 64 KiB on Linux). */
const READ_BYTES = 1024 * 1024;
/** Exit status when the reader went away (as a shell reports SIGPIPE), so the stage counts as stopped. */
export const TAP_READER_GONE = 141;
/** Prefix of the stderr line carrying the listing. */
export const TAP_LISTING_PREFIX = 'listing ';

/** The descriptors and stderr the tap works on (the process's own by default). */
export interface TapIo {
  input: number;
  output: number;
  report(line: string): void;
}

const processIo: TapIo = { input: 0, output: 1, report: (line) => process.stderr.write(`${line}\n`) };

/**
 * Copies `io.input` to `io.output` until end of input, fingerprinting the tar bytes.
 * @returns the exit status: 0 (listing reported), 1 (not a tar, a read error; the reason
 *   reported), {@link TAP_READER_GONE} (the output's reader went away).
 */
export function runFilesTap(io: TapIo = processIo): number {
  const collector = new ListingCollector();
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  try {
    for (;;) {
      const read = retrying(() => readSync(io.input, buffer, 0, buffer.length, null));
      if (read === 0) break;
      collector.write(buffer.subarray(0, read));
      for (let written = 0; written < read;)
        written += retrying(() => writeSync(io.output, buffer, written, read - written));
    }
    io.report(`${TAP_LISTING_PREFIX}${JSON.stringify(collector.end())}`);
    return 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return TAP_READER_GONE;
    io.report(errorMessage(error));
    return 1;
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Runs a read or write again while a non-blocking descriptor is not ready, waiting 1 ms between. */
function retrying(call: () => number): number {
  for (;;) {
    try {
      return call();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
