/**
 * The files archive in one call, for the backup command: select (`walk.ts`), stream as tar
 * (`tar.ts`) and fingerprint as it flows (`fingerprint.ts`). The caller puts `stream` where the
 * dump's producer goes (compression, encryption, hash, stores) and records `listing()` and the
 * selection's counts in the manifest once `done` has resolved. With `direct` and GNU tar, `tee` and
 * `mkfifo` on the PATH, `source` is a {@link ChildProducer} instead (`tee-tar.ts`): tar's bytes go
 * straight into the compressor child, and a FIFO beside them feeds the fingerprint.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { tmpdir } from 'node:os';
import { which } from '@actions/io';

import type { Log } from '../log.js';
import type { ChildProducer } from '../pipeline/process.js';
import { FingerprintTap, type ListingFingerprint } from './fingerprint.js';
import type { FileSelection } from './select.js';
import { createTarStream, detectTarEngine, tarNames, type TarEngine } from './tar.js';
import { openTeeTar } from './tee-tar.js';
import { selectFiles, type SelectOptions } from './walk.js';

export interface FilesArchiveOptions extends SelectOptions {
  /** The tar writer; default: {@link detectTarEngine}. */
  engine?: TarEngine;
  /** Warnings: special files skipped, optional entries that matched nothing, files changed while read. */
  log?: Pick<Log, 'warning'>;
  /** Folder for the pooled pipe's socket and the FIFO (default: the OS temporary folder). */
  socketDir?: string;
  /** Hand GNU tar's bytes child to child (a {@link ChildProducer} as `source`) when tee and mkfifo are found. */
  direct?: boolean;
}

/** A files archive on its way. */
export interface FilesArchive {
  selection: FileSelection;
  /**
   * The tar bytes: a stream, fingerprinted as it passes, that errors (FilesArchiveError) instead of
   * ending when tar failed; or (with `direct`) children that write them into the next child's stdin.
   */
  source: Readable | ChildProducer;
  /** Resolves when tar finished cleanly and the stream was read to its end. */
  done: Promise<void>;
  /** The listing fingerprint of what went into the archive; throws before `done` resolved. */
  listing(): ListingFingerprint;
  engine: TarEngine['kind'];
}

/**
 * Selects the files and starts their tar stream.
 * @throws FilesSelectionError (phase `config`) before anything starts, see `selectFiles`.
 */
export async function openFilesArchive(options: FilesArchiveOptions): Promise<FilesArchive> {
  const selection = await selectFiles(options);
  for (const skipped of selection.skipped) {
    options.log?.warning(`files: ${skipped.path} is a ${skipped.kind}; special files are not archived.`);
  }
  for (const entry of selection.unmatched) {
    options.log?.warning(`files: ${JSON.stringify(entry)} matched nothing (files-optional: true).`);
  }
  const engine = options.engine ?? (await detectTarEngine());
  if (options.direct && engine.kind === 'gnu-tar') {
    const [teePath, mkfifoPath] = await Promise.all([which('tee', false), which('mkfifo', false)]);
    if (teePath && mkfifoPath) {
      const tee = await openTeeTar(tarNames(selection, options.workspace), {
        workspace: options.workspace,
        tarPath: engine.path,
        teePath,
        mkfifoPath,
        fifoDir: options.socketDir ?? tmpdir(),
        ...(options.log ? { log: options.log } : {}),
      });
      return { selection, source: tee, done: tee.done, listing: () => tee.listing(), engine: 'gnu-tar' };
    }
  }
  const tar = await createTarStream(selection, {
    workspace: options.workspace,
    engine,
    ...(options.log ? { log: options.log } : {}),
    ...(options.socketDir ? { socketDir: options.socketDir } : {}),
  });
  const tap = new FingerprintTap();
  const tapped = new Promise<void>((resolve, reject) => {
    pipeline(tar.stream, tap, (error) => (error ? reject(error) : undefined));
    tap.on('end', () => resolve());
  });
  const done = Promise.all([tar.done, tapped]).then(() => undefined);
  done.catch(() => undefined);
  return { selection, source: tap, done, listing: () => tap.result(), engine: tar.engine };
}
