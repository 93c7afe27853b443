/**
 * The files archive handed from child to child: GNU tar → the files tap (`node dist/files-tap.js`,
 * tap-child.ts) → the next child's stdin (the compressor), as pg_dump writes into zstd: the
 * uncompressed tar bytes never pass through this process. The tap copies them on and reports the
 * listing fingerprint on its stderr when tar's output ends. Each program is spawned with an
 * argument array, never a shell.
 *
 * Measured on 1 GiB in 10,000 files with zstd -3 (bench/files.mjs, docs/benchmarks.md "Files
 * archive"): the bytes going through this process (in from tar for the fingerprint, out to zstd)
 * made it the bottleneck, and `tee` beside a FIFO, which writes 8 KiB at a time, was slower still.
 */
import { Readable, type Writable } from 'node:stream';

import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import { killedByUs, spawnStage, type ChildProducer, type ChildStage } from '../pipeline/process.js';
import { FilesArchiveError } from './errors.js';
import type { ListingFingerprint } from './fingerprint.js';
import { TAP_LISTING_PREFIX } from './tap-child.js';
import { changedOnly, gnuTarArgs, nulTerminated } from './tar.js';

/** The variables the tap child inherits. */
const TAP_ENVIRONMENT = new Set(['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL']);

/** The programs a tapped tar needs. */
export interface TappedTarOptions {
  /** The folder the names start from (GNU tar's `--directory`). */
  workspace: string;
  /** GNU tar. */
  tarPath: string;
  /** The Node.js that runs the tap (this one: `process.execPath`) and the tap's script. */
  nodePath: string;
  tapScript: string;
  /** Warnings: files GNU tar saw change while reading them. */
  log?: Pick<Log, 'warning'>;
}

/** A tapped tar: a {@link ChildProducer} that also fingerprints what it wrote. */
export interface TappedTar extends ChildProducer {
  /**
   * Resolves once tar and the tap exited cleanly and the tap reported the listing; rejects with
   * {@link FilesArchiveError} when tar failed (a file vanished) or the tap did (the bytes were not
   * a tar). Rejects too when the producer is stopped before it started.
   */
  done: Promise<void>;
  /** The listing fingerprint; throws before `done` resolved. */
  listing(): ListingFingerprint;
}

/** A tapped tar for `names` (relative to the workspace); the children start with pipeInto or stream. */
export function openTappedTar(names: string[], options: TappedTarOptions): TappedTar {
  return new TappedTarRun(names, options);
}

class TappedTarRun implements TappedTar {
  readonly done: Promise<void>;
  private readonly children: ChildStage[] = [];
  private readonly started: Promise<[ChildStage, ChildStage]>;
  private start!: (children: [ChildStage, ChildStage]) => void;
  private refuse!: (error: Error) => void;
  private reported: ListingFingerprint | undefined;
  private outcome: ListingFingerprint | undefined;

  constructor(
    private readonly names: string[],
    private readonly options: TappedTarOptions,
  ) {
    this.started = new Promise((resolve, reject) => {
      this.start = resolve;
      this.refuse = reject;
    });
    this.done = this.settle();
    this.done.catch(() => undefined);
  }

  pipeInto(stdin: Writable): void {
    this.spawn(stdin);
  }

  stream(): Readable {
    const tap = this.spawn(undefined);
    if (!tap.stdout) throw new FilesArchiveError('the files tap was started without a stdout pipe');
    return tap.stdout;
  }

  stop(): void {
    this.children.forEach((c) => c.kill());
    this.refuse(new FilesArchiveError('the files archive was stopped before it started'));
  }

  listing(): ListingFingerprint {
    if (!this.outcome) throw new Error('TappedTar.listing() called before the archive was done');
    return this.outcome;
  }

  /** The tap (into `stdout`, or a pipe Node reads), then tar into the tap; the names go to tar's stdin. */
  private spawn(stdout: Writable | undefined): ChildStage {
    const tap = spawnStage('files tap', this.options.nodePath, [this.options.tapScript], {
      // Nothing of the run's environment (inputs, secrets, NODE_OPTIONS hooks) is needed to copy bytes.
      inherit: (name) => TAP_ENVIRONMENT.has(name),
      stdin: 'pipe',
      ...(stdout ? { stdout } : {}),
      onStderrLine: (line) => {
        if (line.startsWith(TAP_LISTING_PREFIX))
          this.reported = JSON.parse(line.slice(TAP_LISTING_PREFIX.length)) as ListingFingerprint;
      },
    });
    this.children.push(tap);
    const tapStdin = tap.stdin;
    if (!tapStdin) throw new FilesArchiveError('the files tap was started without a stdin pipe');
    const tar = spawnStage('tar', this.options.tarPath, gnuTarArgs(this.options.workspace), {
      stdin: 'pipe',
      stdout: tapStdin,
      onStderrLine: (line) => {
        if (/changed as we read it/.test(line)) this.options.log?.warning(`files: ${line.replace(/^tar: /, '')}`);
      },
    });
    this.children.push(tar);
    const names = tar.stdin;
    if (!names) throw new FilesArchiveError('tar was started without a stdin pipe');
    names.on('error', () => undefined); // tar exited early; its exit status says why
    Readable.from(nulTerminated(this.names)).pipe(names);
    this.start([tar, tap]);
    return tap;
  }

  /** The first failure of tar, then the tap; the listing taken from the tap's report. */
  private async settle(): Promise<void> {
    const [tar, tap] = await this.started;
    const [tarExit, tapExit] = await Promise.allSettled([tar.done, tap.done]);
    const tarReason: unknown = tarExit.status === 'rejected' ? tarExit.reason : undefined;
    const tarError =
      tarReason !== undefined && !changedOnly(tarReason)
        ? new FilesArchiveError(`tar failed while archiving the files: ${errorMessage(tarReason)}`, {
            cause: tarReason,
          })
        : undefined;
    // tar's own failure names the cause; tar stopped by a failed tap (SIGPIPE) comes after the tap's
    if (tarError && !killedByUs(tarReason)) throw tarError;
    if (tapExit.status === 'rejected')
      throw new FilesArchiveError(`fingerprinting the files archive failed: ${errorMessage(tapExit.reason)}`, {
        cause: tapExit.reason,
      });
    if (tarError) throw tarError;
    if (!this.reported) throw new FilesArchiveError('the files tap ended without reporting the listing');
    this.outcome = this.reported;
  }
}
