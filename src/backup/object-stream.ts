/**
 * The back half of the dump stream for any producer that is a Node stream (the files archive,
 * docs/files.md): compress in the stream (the `compression` input's method and level) → encrypt
 * (the same OpenPGP recipients) → sha256/bytes → every store at once, under keys this run has
 * claimed, with no temporary file. As for the dump, the end of the stream waits for the producer's
 * own success (`sourceDone`), every child's exit status and the claims, so no upload completes an
 * object from a failed producer; a failure aborts every upload.
 */
import zlib from 'node:zlib';
import type { Duplex, Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { EncryptionInfo } from '../crypto/encrypt.js';
import type { GpgEncrypter } from '../crypto/gpg.js';
import type { EncryptionConfig } from '../crypto/specs.js';
import { ActionError, DumpError, EncryptError, UploadError, errorMessage } from '../errors.js';
import {
  createCompressor,
  DEFAULT_LEVEL,
  type CompressionMethod,
  type CompressionPlan,
  type CompressorsAvailable,
} from '../pipeline/compression.js';
import { openPooledPipe, type PooledPipe } from '../pipeline/pooled-pipe.js';
import { isChildProducer, killedByUs, type ChildProducer, type ChildStage } from '../pipeline/process.js';
import { AllOutputsFailedError, ExitGate, Fanout, Meter, STREAM_HIGH_WATER_MARK } from '../pipeline/stages.js';
import type { Claim } from '../storage/claim.js';
import type { UploadResult } from '../storage/types.js';
import { chooseGpg, type GpgSearch } from './encryption.js';
import { claimKeys, startUploads, type StoreTargets } from './store-fanout.js';

/** What {@link streamObject} needs: the producer, how to compress and encrypt, and where to store. */
export interface ObjectStreamPlan extends GpgSearch, StoreTargets {
  /** What it is, in messages (`the files archive`). */
  what: string;
  /**
   * The bytes to store; an error on it fails the whole stream. A {@link ChildProducer} writes
   * straight into the compressor child's stdin when there is one (no byte through Node); it is
   * stopped on cancel and failure.
   */
  source: Readable | ChildProducer;
  /** Settles once the producer finished: a rejection fails the stream instead of ending it. */
  sourceDone: Promise<unknown>;
  /** Always compressed in the stream (never by pg_dump): method and level, and the tools there are. */
  compression: { method: CompressionMethod; level?: number; compressors: CompressorsAvailable };
  encryption: EncryptionConfig | undefined;
}

/** What the stream stored. */
export interface StreamedObject {
  /** sha256 and bytes of what is stored (after compression and encryption). */
  measurement: { bytes: number; sha256: string };
  encryption: EncryptionInfo | null;
  /** Each store's upload; rejected where the store (or its claim) failed. */
  uploads: PromiseSettledResult<UploadResult>[];
  /** Each store's claim of its key, handed to the caller (release once the manifest is written); undefined where it failed. */
  claims: (Claim | undefined)[];
}

/** Where the compression runs: a child (zstd, lz4 CLI) the stream is piped into, in Node, or none. */
function compressionPlan(c: ObjectStreamPlan['compression']): CompressionPlan | 'gzip' | undefined {
  if (c.method === 'none') return undefined;
  if (c.method === 'gzip') return 'gzip';
  const level = c.level ?? DEFAULT_LEVEL[c.method];
  const engine =
    c.method === 'zstd'
      ? c.compressors.zstdCli
        ? 'zstd-cli'
        : c.compressors.nodeZstd
          ? 'node-zlib'
          : undefined
      : c.compressors.lz4Cli
        ? 'lz4-cli'
        : undefined;
  if (!engine)
    throw new DumpError(
      `compression ${c.method} of the files archive needs the ${c.method} command-line tool${c.method === 'zstd' ? " or Node 24's zlib" : ''}; install ${c.method} or set compression: gzip.`,
    );
  return { method: c.method, level, pgDumpCompress: '0', where: 'stream', engine, suffix: '' };
}

/**
 * Streams `plan.source` compressed (and encrypted) into every store. A store that fails drops out
 * while the others go on (its upload is rejected in `uploads`); the stream fails when the producer,
 * a compressor, the encryption or every store fails, or a key is taken.
 * @throws the producer's own error (e.g. FilesArchiveError), DumpError (a compressor failed),
 *   EncryptError, UploadError (every store failed; KeyTakenError when a key is taken).
 */
export async function streamObject(plan: ObjectStreamPlan): Promise<StreamedObject> {
  const run = new ObjectRun(plan);
  try {
    return await run.run();
  } finally {
    await run.cleanUp();
  }
}

/** One {@link streamObject}: its children, claims and pooled pipe until it has cleaned up. */
class ObjectRun {
  private readonly children: ChildStage[] = [];
  private pooled: PooledPipe | undefined;
  private gpg: GpgEncrypter | undefined;
  private claiming: Promise<Claim>[] = [];
  private handedOver = false;
  /** The source as a stream Node reads; undefined while not started, or when a child producer writes into a child. */
  private sourceStream: Readable | undefined;

  constructor(private readonly plan: ObjectStreamPlan) {}

  private readonly killAll = (): void => {
    this.children.forEach((c) => c.kill());
    if (isChildProducer(this.plan.source)) this.plan.source.stop();
  };

  /** The source's stream, started now for a child producer. */
  private readSource(): Readable {
    const { source } = this.plan;
    this.sourceStream = isChildProducer(source) ? source.stream() : source;
    return this.sourceStream;
  }

  async run(): Promise<StreamedObject> {
    const { plan } = this;
    const onAbort = (): void => {
      this.killAll();
      this.sourceStream?.destroy(new DumpError(`The backup was cancelled while storing ${plan.what}.`));
    };
    plan.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const head = await this.startHead();
      const claims = claimKeys(plan.stores, plan.keys);
      this.claiming = claims.claiming;
      const { keysFree } = claims;
      keysFree.catch(() => undefined);
      // The source read to its end without error too: a compressor child given a broken stdin
      // would otherwise end a valid but short stream.
      const sourceRead = this.sourceStream ? finished(this.sourceStream) : Promise.resolve();
      sourceRead.catch(() => undefined);
      const gate = new ExitGate(() => [...this.children.map((c) => c.done), plan.sourceDone, sourceRead, keysFree]);
      const meter = new Meter();
      const fanout = new Fanout(plan.stores.length);
      const uploads = startUploads(plan, fanout, meter, this.claiming);
      const stages = [...head, meter, gate, fanout];
      const flowing = pipeline(stages as unknown as [Readable, ...NodeJS.WritableStream[]]);
      const [flow, ...settled] = await Promise.allSettled([flowing, ...uploads] as const);
      if (flow.status === 'rejected') throw await this.failure(flow.reason, settled, keysFree);
      const held = await keysFree;
      this.handedOver = true;
      // A destination whose claim failed reports the store's answer, not its upload's broken stream.
      claims.errors.forEach((reason, i) => (settled[i] = { status: 'rejected', reason }));
      return {
        measurement: meter.result(),
        encryption: this.gpg?.info ?? this.inProcessInfo ?? null,
        uploads: settled,
        claims: held,
      };
    } finally {
      plan.signal?.removeEventListener('abort', onAbort);
    }
  }

  private inProcessInfo: EncryptionInfo | undefined;

  /**
   * The stages before the meter: with a compressor CLI, the source is piped into it, and it (or gpg
   * after it) writes into a pooled pipe Node reads; else zlib and OpenPGP.js in the process.
   */
  private async startHead(): Promise<Readable[]> {
    const { plan } = this;
    const compression = compressionPlan(plan.compression);
    if (compression !== undefined && compression !== 'gzip' && compression.engine !== 'node-zlib') {
      this.gpg = await chooseGpg(plan.encryption, plan, compression);
      const pooled = await openPooledPipe(plan.tempDir);
      this.pooled = pooled;
      const encrypter = this.gpg?.start(pooled.childEnd);
      if (encrypter) this.children.push(encrypter);
      const compressor = createCompressor(
        compression,
        plan.compression.compressors,
        encrypter?.stdin ?? pooled.childEnd,
      );
      if (compressor?.kind !== 'child') throw new Error('expected a compressor child');
      this.children.push(compressor.child);
      pooled.writtenBy(encrypter ?? compressor.child);
      const stdin = compressor.child.stdin;
      stdin.on('error', () => undefined); // a compressor that dies: its exit status says why
      if (isChildProducer(plan.source)) plan.source.pipeInto(stdin);
      else void pipeline(this.readSource(), stdin).catch(() => undefined);
      const encrypting = plan.encryption && !this.gpg ? await this.encryptStage() : [];
      return [pooled.output, ...encrypting];
    }
    const zipped =
      compression === 'gzip'
        ? [zlib.createGzip({ level: plan.compression.level ?? DEFAULT_LEVEL.gzip, chunkSize: STREAM_HIGH_WATER_MARK })]
        : compression
          ? // Node's zlib zstd: a Duplex (the stdout argument is for command-line compressors only)
            [(createCompressor(compression, plan.compression.compressors, process.stdout) as { stream: Duplex }).stream]
          : [];
    return [this.readSource(), ...zipped, ...(plan.encryption ? await this.encryptStage() : [])];
  }

  /** OpenPGP.js in the process (the same stage as the dump's when gpg is not used). */
  private async encryptStage(): Promise<Duplex[]> {
    const { plan } = this;
    if (!plan.encryption) return [];
    const stage = await (await import('../crypto/encrypt.js')).createEncryptStage(plan.encryption);
    this.inProcessInfo = stage.info;
    return [stage.stream];
  }

  /** Why the stream failed: a key taken, the producer, a child, the encryption, else the stores. */
  private async failure(
    reason: unknown,
    settled: PromiseSettledResult<UploadResult>[],
    keysFree: Promise<unknown>,
  ): Promise<Error> {
    const { plan } = this;
    this.killAll();
    this.sourceStream?.destroy();
    const exits = await Promise.allSettled(this.children.map((c) => c.done));
    const taken = await keysFree.then(
      () => undefined,
      (error: unknown) => error,
    );
    if (taken instanceof Error) return taken;
    if (plan.signal?.aborted)
      return new DumpError(`The backup was cancelled while storing ${plan.what}; every upload was aborted.`);
    const source = await plan.sourceDone.then(
      () => undefined,
      (error: unknown) => error,
    );
    if (source instanceof Error) return source;
    const child = exits.findIndex((e) => e.status === 'rejected' && !killedByUs(e.reason));
    const exit = exits[child];
    if (exit?.status === 'rejected') {
      const name = this.children[child]?.name ?? 'a child';
      const text = `${name} failed while storing ${plan.what}: ${errorMessage(exit.reason)}`;
      return name === 'gpg'
        ? new EncryptError(text, { cause: exit.reason })
        : new DumpError(text, { cause: exit.reason });
    }
    if (reason instanceof ActionError && !(reason instanceof UploadError)) return reason;
    const uploadErrors = settled.filter((u): u is PromiseRejectedResult => u.status === 'rejected');
    if (reason instanceof AllOutputsFailedError || uploadErrors.length > 0)
      return new UploadError(
        `${plan.what} could not be stored: ${uploadErrors.map((u) => errorMessage(u.reason)).join('; ') || errorMessage(reason)}`,
        { cause: reason },
      );
    return new DumpError(`${plan.what} could not be stored: ${errorMessage(reason)}`, { cause: reason });
  }

  /** Kills what still runs, closes the pipe and gpg, and releases the claims unless handed over. */
  async cleanUp(): Promise<void> {
    this.killAll();
    this.pooled?.childEnd.destroy();
    this.pooled?.output.destroy();
    await this.gpg?.close().catch(() => undefined);
    if (this.handedOver) return;
    const outcomes = await Promise.allSettled(this.claiming);
    await Promise.all(
      outcomes.map(async (o, i) => {
        if (o.status !== 'fulfilled') return;
        // The object is removed by the caller's clean-up (it is not under a final key for long);
        // the claim goes once nothing is stored under its key.
        const stored = await this.plan.stores[i]?.head(o.value.archiveKey).catch(() => ({}));
        if (!stored) await o.value.release();
      }),
    );
  }
}
