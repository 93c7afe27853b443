/**
 * The files archive handed from child to child: GNU tar → `tee <fifo>` → the next child's stdin (the
 * compressor), as pg_dump writes into zstd: the uncompressed tar bytes never pass through Node on
 * their way to the store. tee's second output is a named pipe (made with `mkfifo` in a private 0700
 * folder, removed at the end; a FIFO holds no data) that this process reads only to fingerprint the
 * listing ({@link FingerprintTap}). Each program is spawned with an argument array, never a shell.
 *
 * Measured on 1 GiB in 10,000 files with zstd -3 (bench/files.mjs, docs/benchmarks.md "Files
 * archive"): the bytes going through Node twice (in from tar for the tap, out to zstd) was the gap
 * to `tar | zstd`.
 */
import { constants, close, open } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import { killedByUs, spawnStage, toolOutput, type ChildProducer, type ChildStage } from '../pipeline/process.js';
import { FilesArchiveError } from './errors.js';
import { FingerprintTap, type ListingFingerprint } from './fingerprint.js';
import { changedOnly, gnuTarArgs, nulTerminated } from './tar.js';

const openFd = promisify(open);
const closeFd = promisify(close);

/** The programs and folders a tee'd tar needs. */
export interface TeeTarOptions {
  /** The folder the names start from (GNU tar's `--directory`). */
  workspace: string;
  /** Paths of GNU tar, `tee` and `mkfifo`. */
  tarPath: string;
  teePath: string;
  mkfifoPath: string;
  /** Where the FIFO's private folder is made (the run's temporary folder). */
  fifoDir: string;
  /** Warnings: files GNU tar saw change while reading them. */
  log?: Pick<Log, 'warning'>;
}

/** A tee'd tar: a {@link ChildProducer} that also fingerprints what it wrote. */
export interface TeeTar extends ChildProducer {
  /**
   * Resolves once tar and tee exited cleanly and the fingerprint read the FIFO to its end; rejects
   * with {@link FilesArchiveError} when tar failed (a file vanished), tee failed or the tar bytes
   * could not be parsed. Rejects too when the producer is never started and is stopped.
   */
  done: Promise<void>;
  /** The listing fingerprint; throws before `done` resolved. */
  listing(): ListingFingerprint;
}

/**
 * Makes the FIFO and starts reading it; tar and tee start with {@link ChildProducer.pipeInto} or
 * {@link ChildProducer.stream}.
 * @throws FilesArchiveError when the FIFO cannot be made or opened.
 */
export async function openTeeTar(names: string[], options: TeeTarOptions): Promise<TeeTar> {
  const dir = await mkdtemp(path.join(options.fifoDir, 'pg-backup-files-'));
  const fifo = path.join(dir, 'tar.fifo');
  let reader: net.Socket;
  let keepOpen: number;
  try {
    if (!(await toolOutput(options.mkfifoPath, ['-m', '600', fifo])))
      throw new Error(`${options.mkfifoPath} -m 600 ${fifo} failed`);
    // Both ends opened without blocking; the write end held here until tee has exited, so the reader
    // sees end-of-file only once tee is done (and not before tee has opened the FIFO).
    const readFd = await openFd(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    keepOpen = await openFd(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    reader = new net.Socket({ fd: readFd, readable: true, writable: false });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new FilesArchiveError(`the files archive's named pipe cannot be made: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return new TeeTarRun(names, options, { dir, fifo, reader, keepOpen });
}

class TeeTarRun implements TeeTar {
  readonly done: Promise<void>;
  private readonly tap = new FingerprintTap();
  private readonly children: ChildStage[] = [];
  private readonly started: Promise<ChildStage[]>;
  private start!: (children: ChildStage[]) => void;
  private refuse!: (error: Error) => void;

  constructor(
    private readonly names: string[],
    private readonly options: TeeTarOptions,
    private readonly fifo: { dir: string; fifo: string; reader: net.Socket; keepOpen: number },
  ) {
    this.started = new Promise((resolve, reject) => {
      this.start = resolve;
      this.refuse = reject;
    });
    const tapped = pipeline(fifo.reader, this.tap, async (chunks: AsyncIterable<Buffer>) => {
      for await (const _ of chunks); // the tap only fingerprints: its copy of the bytes goes nowhere
    });
    tapped.catch(() => undefined);
    this.done = this.settle(tapped);
    this.done.catch(() => undefined);
  }

  pipeInto(stdin: Writable): void {
    this.spawn(stdin);
  }

  stream(): Readable {
    const tee = this.spawn(undefined);
    if (!tee.stdout) throw new FilesArchiveError('tee was started without a stdout pipe');
    return tee.stdout;
  }

  stop(): void {
    this.children.forEach((c) => c.kill());
    this.refuse(new FilesArchiveError('the files archive was stopped before it started'));
  }

  listing(): ListingFingerprint {
    return this.tap.result();
  }

  private keptOpen = true;

  /** Closes this process's write end of the FIFO (once): the reader then ends when tee has closed its own. */
  private closeKeepOpen(): void {
    if (!this.keptOpen) return;
    this.keptOpen = false;
    void closeFd(this.fifo.keepOpen).catch(() => undefined);
  }

  /** tee (into `stdout`, or a pipe Node reads) then tar into tee; the names go to tar's stdin. */
  private spawn(stdout: Writable | undefined): ChildStage {
    const tee = spawnStage('tee', this.options.teePath, [this.fifo.fifo], {
      stdin: 'pipe',
      ...(stdout ? { stdout } : {}),
    });
    this.children.push(tee);
    void tee.done.catch(() => undefined).finally(() => this.closeKeepOpen());
    const teeStdin = tee.stdin;
    if (!teeStdin) throw new FilesArchiveError('tee was started without a stdin pipe');
    const tar = spawnStage('tar', this.options.tarPath, gnuTarArgs(this.options.workspace), {
      stdin: 'pipe',
      stdout: teeStdin,
      onStderrLine: (line) => {
        if (/changed as we read it/.test(line)) this.options.log?.warning(`files: ${line.replace(/^tar: /, '')}`);
      },
    });
    this.children.push(tar);
    const names = tar.stdin;
    if (!names) throw new FilesArchiveError('tar was started without a stdin pipe');
    names.on('error', () => undefined); // tar exited early; its exit status says why
    Readable.from(nulTerminated(this.names)).pipe(names);
    this.start([tar, tee]);
    return tee;
  }

  /** The first failure of tar, the fingerprint, then tee; the FIFO's folder removed once all ended. */
  private async settle(tapped: Promise<void>): Promise<void> {
    try {
      const [tar, tee] = await this.started;
      const [tarExit, tap, teeExit] = await Promise.allSettled([tar?.done, tapped, tee?.done]);
      const tarFailed = tarExit.status === 'rejected' && !changedOnly(tarExit.reason);
      if (tarFailed && !killedByUs(tarExit.reason))
        throw new FilesArchiveError(`tar failed while archiving the files: ${errorMessage(tarExit.reason)}`, {
          cause: tarExit.reason,
        });
      if (tap.status === 'rejected')
        throw tap.reason instanceof FilesArchiveError
          ? tap.reason
          : new FilesArchiveError(`fingerprinting the files archive failed: ${errorMessage(tap.reason)}`, {
              cause: tap.reason,
            });
      const exit =
        teeExit.status === 'rejected'
          ? { name: 'tee', why: teeExit }
          : tarFailed
            ? { name: 'tar', why: tarExit }
            : undefined;
      if (exit?.why.status === 'rejected')
        throw new FilesArchiveError(`${exit.name} failed while archiving the files: ${errorMessage(exit.why.reason)}`, {
          cause: exit.why.reason,
        });
    } finally {
      this.closeKeepOpen();
      this.fifo.reader.destroy();
      await rm(this.fifo.dir, { recursive: true, force: true });
    }
  }
}
