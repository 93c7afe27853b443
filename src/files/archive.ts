/**
 * The files archive in one call, for the backup command: select (`walk.ts`), stream as tar
 * (`tar.ts`) and fingerprint as it flows (`fingerprint.ts`). The caller puts `stream` where the
 * dump's producer goes (compression, encryption, hash, stores) and records `listing()` and the
 * selection's counts in the manifest once `done` has resolved. With a `tapScript` and GNU tar,
 * `source` is a {@link ChildProducer} instead (`tap-tar.ts`): tar's bytes go through the files tap
 * child straight into the compressor child, fingerprinted on the way.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';

import type { Log } from '../log.js';
import type { ChildProducer } from '../pipeline/process.js';
import { FingerprintTap, type ListingFingerprint } from './fingerprint.js';
import type { FileSelection } from './select.js';
import { createTarStream, detectTarEngine, tarNames, type TarEngine } from './tar.js';
import { openTappedTar } from './tap-tar.js';
import { selectFiles, type SelectOptions } from './walk.js';

export interface FilesArchiveOptions extends SelectOptions {
  /** The tar writer; default: {@link detectTarEngine}. */
  engine?: TarEngine;
  /** Warnings: special files skipped, optional entries that matched nothing, files changed while read. */
  log?: Pick<Log, 'warning'>;
  /** Folder for the pooled pipe's socket (default: the OS temporary folder). */
  socketDir?: string;
  /**
   * The files tap's script (`dist/files-tap.js`, see tap-script.ts): with GNU tar, the bytes go
   * child to child (a {@link ChildProducer} as `source`); without, through this process.
   */
  tapScript?: string | undefined;
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
  /** Who fingerprints the bytes: the files tap child (`tapScript` with GNU tar), or this process. */
  fingerprintedBy: 'files tap' | 'this process';
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
  if (options.tapScript && engine.kind === 'gnu-tar') {
    const tapped = openTappedTar(tarNames(selection, options.workspace), {
      workspace: options.workspace,
      tarPath: engine.path,
      nodePath: process.execPath,
      tapScript: options.tapScript,
      ...(options.log ? { log: options.log } : {}),
    });
    return {
      selection,
      source: tapped,
      done: tapped.done,
      listing: () => tapped.listing(),
      engine: 'gnu-tar',
      fingerprintedBy: 'files tap',
    };
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
  return {
    selection,
    source: tap,
    done,
    listing: () => tap.result(),
    engine: tar.engine,
    fingerprintedBy: 'this process',
  };
}
