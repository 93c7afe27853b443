/**
 * The hot path of a backup: one pg_dump run (→ compress → encrypt) → sha256/bytes → every store at
 * once, in the snapshot the row counts are taken in, under keys this run has claimed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EncryptionInfo } from '../crypto/encrypt.js';
import type { GpgEncrypter } from '../crypto/gpg.js';
import type { EncryptionConfig } from '../crypto/specs.js';
import { DumpError, type UploadError } from '../errors.js';
import type { ContentRecord, Manifest } from '../manifest.js';
import {
  createCompressor,
  type CompressionPlan,
  type Compressor,
  type CompressorsAvailable,
} from '../pipeline/compression.js';
import { openPooledPipe, type PooledPipe } from '../pipeline/pooled-pipe.js';
import { spawnStage, type ChildStage } from '../pipeline/process.js';
import { ExitGate, Fanout, Meter } from '../pipeline/stages.js';
import { buildPgDumpArgs } from '../postgres/dump-args.js';
import { dumpFailure, explainLockWait } from '../postgres/dump-failure.js';
import type { Dumper } from '../postgres/dumper.js';
import type { FingerprintAlgorithm } from '../postgres/fingerprint.js';
import type { DatabaseInspector, SnapshotSession } from '../postgres/inspect.js';
import { libpqEnv } from '../postgres/libpq.js';
import type { Connection, DumpOptions } from '../postgres/types.js';
import type { Claim } from '../storage/claim.js';
import type { ObjectStore, UploadResult } from '../storage/types.js';
import { ContentRun, type Counted } from './content.js';
import { chooseGpg, type GpgSearch } from './encryption.js';
import { rootCause } from './stream-failure.js';
import { claimKeys, startUploads } from './store-fanout.js';
import { releaseClaim } from './unfinished.js';

/** Everything one dump stream needs: what to dump, how, from where, and into which stores. */
export interface DumpPlan extends GpgSearch {
  /** The source database (pg_dump's libpq environment; host and port for its error messages). */
  connection: Connection;
  dump: DumpOptions;
  /** How the manifest's row counts are taken. */
  rowCounts: Manifest['rowCounts']['mode'];
  /** The content record: its fingerprint algorithm, and whether tables and large objects are fingerprinted (`verify: content`). */
  content: { algorithm: FingerprintAlgorithm; fingerprints: boolean };
  /** OpenPGP encryption of the archive; undefined = none. */
  encryption: EncryptionConfig | undefined;
  /** The open connection the snapshot, the counts and the lock watch use. */
  inspector: DatabaseInspector;
  /** Runs pg_dump from the chosen client's folder. */
  dumper: Dumper;
  /** Where the archive is compressed, with what, and the `stdbuf` path for pg_dump's stdout (undefined: none). */
  compression: { plan: CompressionPlan; compressors: CompressorsAvailable; stdbuf: string | undefined };
  /** One per destination, with the archive key in `keys` at the same index. */
  stores: ObjectStore[];
  keys: string[];
  contentType: string;
  /** Bytes the archive is expected to take (the database's size), for the uploads' part sizes. */
  expectedBytes: number;
  /** Aborted on SIGINT/SIGTERM: the dump is killed and uploads aborted. */
  signal?: AbortSignal | undefined;
}

/** What the stream produced. */
export interface Streamed {
  measurement: { bytes: number; sha256: string };
  encryption: EncryptionInfo | null;
  /** Each store's upload, or the store's answer to the claim where that failed. */
  uploads: PromiseSettledResult<UploadResult>[];
  snapshot: string;
  rowCounts: Manifest['rowCounts']['tables'];
  catalogCounts: Manifest['objects'];
  /** The manifest's `content`. */
  content: ContentRecord;
  /** Seconds from the snapshot's opening to the end of the stream. */
  seconds: number;
  /** Each store's claim of its key (storage/claim.ts), held until the manifest is written; undefined where it failed. */
  claims: (Claim | undefined)[];
}

/**
 * Runs one pg_dump streamed to every store, in the dump's exported snapshot, with the row counts
 * taken beside it. A store that fails drops out while the others go on (its upload is rejected in
 * `uploads`); the stream as a whole fails only when pg_dump, a compressor, gpg, the counts or every
 * store fail, or a key is found taken.
 * @throws DumpError (classified pg_dump stderr, a lock wait naming its holder, cancellation),
 *   EncryptError, UploadError (every store failed; KeyTakenError when a key is taken).
 */
export async function streamDump(plan: DumpPlan): Promise<Streamed> {
  const t0 = Date.now();
  const session = await plan.inspector.openSnapshot({ lockTimeoutMs: plan.dump.lockWaitTimeoutMs ?? 0 });
  return new DumpRun(plan, session, t0).run();
}

/** The chain of children, started last first, and the pipe Node reads the archive from. */
interface Chain {
  pooled: PooledPipe;
  compressor: Compressor | undefined;
  /** The child that writes into the pooled pipe. */
  last: ChildStage;
}

/** One {@link streamDump}: the children, claims and failures it tracks until it has cleaned up. */
class DumpRun {
  private readonly env: Record<string, string>;
  private readonly children: ChildStage[] = [];
  private gate: ExitGate | undefined;
  private countFailed: Error | undefined;
  private keyTaken: UploadError | undefined;
  private tempDir: string | undefined;
  private pooled: PooledPipe | undefined;
  private gpg: GpgEncrypter | undefined;
  private claiming: Promise<Claim>[] = [];
  private claimErrors: unknown[] = [];
  private claimed = false;
  private readonly content: ContentRun;

  constructor(
    private readonly plan: DumpPlan,
    private readonly session: SnapshotSession,
    private readonly t0: number,
  ) {
    this.env = libpqEnv(plan.connection);
    // First on the session's queue: the sequences' state before pg_dump starts.
    this.content = new ContentRun(session, plan.rowCounts, plan.content.algorithm, plan.content.fingerprints);
  }

  private readonly killAll = (): void => this.children.forEach((c) => c.kill());

  async run(): Promise<Streamed> {
    const { signal, inspector } = this.plan;
    const onAbort = (): void => this.killAll();
    signal?.addEventListener('abort', onAbort, { once: true });
    const lockWatch = this.watchLocks();
    const counts = this.count();
    try {
      if (signal?.aborted) throw new DumpError('The backup was cancelled before the dump started.');
      const chain = await this.startChain();
      const { gate, keysFree } = this.claimKeys(counts);
      chain.pooled.writtenBy(chain.last);
      return await this.stream(chain, gate, keysFree, counts);
    } catch (error) {
      // A failure before the stream (the directory format's pg_dump): name a lock's holder too.
      throw error instanceof Error ? await explainLockWait(error, inspector) : error;
    } finally {
      await this.cleanUp(onAbort, lockWatch);
    }
  }

  /** Logs lock waits of pg_dump's backends (found by the application_name libpq gives them) and the counts' session. */
  private watchLocks(): { stop(): Promise<void> } {
    const { inspector, connection, log } = this.plan;
    const lockWaitTimeoutMs = this.plan.dump.lockWaitTimeoutMs ?? 0;
    return inspector.watchLocks(
      {
        countingPid: this.session.pid,
        pgDumpApplicationName: connection.params.application_name ?? 'pg_dump',
        since: new Date(),
      },
      (line) => log.info(line),
      lockWaitTimeoutMs > 0
        ? ` The backup goes on once the lock is released, or fails after lock-wait-timeout (${lockWaitTimeoutMs / 1000} s).`
        : ' The backup goes on once the lock is released (lock-wait-timeout is 0: no limit).',
    );
  }

  /**
   * The row counts run beside pg_dump, in its snapshot. A failed count stops the dump at once:
   * the children are killed and the stream (so every upload) is destroyed, and the end of the
   * stream waits for the counts, so no archive is stored without them.
   */
  private count(): Promise<Counted> {
    const counts = this.content.counts();
    counts.catch((error: unknown) => {
      this.countFailed = error instanceof Error ? error : new DumpError(String(error));
      this.gate?.destroy(this.countFailed);
      this.killAll();
    });
    return counts;
  }

  private throwIfCountFailed(): void {
    if (this.countFailed) throw this.countFailed;
  }

  /**
   * The last child of the chain writes into a pooled pipe: Node reads it into reused buffers.
   * Each child starts before the one that writes into it, so that pg_dump (or tar) writes
   * straight into the compressor CLI and that into gpg: OS pipes between them, the dump never
   * passes through Node until it is compressed (and encrypted).
   */
  private async startChain(): Promise<Chain> {
    const { plan } = this;
    this.gpg = await chooseGpg(plan.encryption, plan, plan.compression.plan);
    const pooled = await openPooledPipe(plan.tempDir);
    this.pooled = pooled;
    const encrypter = this.gpg?.start(pooled.childEnd);
    if (encrypter) this.children.push(encrypter);
    const tail = encrypter ? encrypter.stdin : pooled.childEnd;
    const compressor = createCompressor(plan.compression.plan, plan.compression.compressors, tail);
    if (compressor?.kind === 'child') this.children.push(compressor.child);
    const stdout = compressor?.kind === 'child' ? compressor.child.stdin : tail;
    // The sequences' "before" values are read before pg_dump starts (a failure shows as the counts').
    await this.content.before.catch(() => undefined);
    this.throwIfCountFailed();
    const producer = await this.startProducer(stdout);
    this.children.push(producer);
    return { pooled, compressor, last: encrypter ?? (compressor?.kind === 'child' ? compressor.child : producer) };
  }

  /** pg_dump writing into `stdout`; for the directory format, pg_dump into a folder, then tar of it. */
  private async startProducer(stdout: Writable): Promise<ChildStage> {
    const { dump, dumper, compression, connection } = this.plan;
    const compress = compression.plan.pgDumpCompress;
    const snapshot = this.session.snapshotId;
    if (dump.format !== 'directory') {
      const { stdbuf } = compression;
      return dumper.start('pg_dump', buildPgDumpArgs(dump, { compress, snapshot }), this.env, {
        stdout,
        ...(stdbuf ? { stdbuf } : {}),
      });
    }
    this.tempDir = await mkdtemp(join(this.plan.tempDir, 'pg-backup-'));
    const outputDir = join(this.tempDir, 'dump');
    const pgDump = dumper.start('pg_dump', buildPgDumpArgs(dump, { compress, snapshot, outputDir }), this.env);
    this.children.push(pgDump);
    pgDump.stdout?.resume();
    await pgDump.done.catch((error: unknown) => {
      // pg_dump stopped by us after a failed count may exit 1 (its SIGTERM handler says
      // "terminated by user"): the count's failure is the cause either way.
      throw this.countFailed ?? dumpFailure(error, connection);
    });
    this.throwIfCountFailed();
    return spawnStage('tar', 'tar', ['-C', outputDir, '-cf', '-', '.'], { stdout });
  }

  /**
   * The claim of the new keys (storage/claim.ts; for S3 the SDK's load, ~70 ms of this thread, a
   * HeadObject, the claim's PutObject and a listing) runs once the dump has started instead of
   * before it. The end of the stream (and so every upload's completion) waits for it and for every
   * child's exit status, so no upload completes under a key this run does not own; a key found
   * taken stops the stream at once.
   * A key taken (KeyTakenError) stops the whole run; a store that cannot be asked fails only its
   * own destination (see {@link stream}), as an upload failure would.
   */
  private claimKeys(counts: Promise<unknown>): { gate: ExitGate; keysFree: Promise<(Claim | undefined)[]> } {
    const claims = claimKeys(this.plan.stores, this.plan.keys);
    this.claiming = claims.claiming;
    this.claimErrors = claims.errors;
    const { keysFree } = claims;
    const gate = new ExitGate(() => [...this.children.map((c) => c.done), keysFree, counts]);
    this.gate = gate;
    if (this.countFailed) gate.destroy(this.countFailed);
    keysFree.catch((error: UploadError) => {
      this.keyTaken = error;
      this.gate?.destroy(error);
    });
    return { gate, keysFree };
  }

  /** dump → compress → encrypt → hash → upload: the sha256 and size are those of what is stored. */
  private async stream(
    chain: Chain,
    gate: ExitGate,
    keysFree: Promise<(Claim | undefined)[]>,
    counts: Promise<Counted>,
  ): Promise<Streamed> {
    const { encryption: encrypting, stores } = this.plan;
    const encryption =
      encrypting && !this.gpg ? await (await import('../crypto/encrypt.js')).createEncryptStage(encrypting) : undefined;
    const meter = new Meter();
    const fanout = new Fanout(stores.length);
    const uploads = startUploads(this.plan, fanout, meter, this.claiming);
    const stages = [
      chain.pooled.output,
      ...(chain.compressor?.kind === 'in-process' ? [chain.compressor.stream] : []),
      ...(encryption ? [encryption.stream] : []),
      meter,
      gate,
      fanout,
    ] as const;
    const flowing = pipeline(stages as unknown as [Readable, ...NodeJS.WritableStream[]]);
    const [flow, ...settled] = await Promise.allSettled([flowing, ...uploads] as const);
    if (flow.status === 'rejected') throw await this.failure(flow.reason, settled);
    const counted = await counts;
    // pg_dump has ended: the sequences' "after" values bound what it read.
    const content = await this.content.finish(counted);
    const claims = await keysFree;
    this.claimed = true;
    // A destination whose claim failed reports the store's answer, not its upload's broken stream.
    this.claimErrors.forEach((reason, i) => (settled[i] = { status: 'rejected', reason }));
    return {
      measurement: meter.result(),
      encryption: this.gpg?.info ?? encryption?.info ?? null,
      uploads: settled,
      snapshot: this.session.snapshotId,
      rowCounts: counted.rowCounts,
      catalogCounts: counted.catalogCounts,
      content,
      seconds: (Date.now() - this.t0) / 1000,
      claims,
    };
  }

  /** Why the stream failed, once the children are stopped: a key taken, a failed count, else {@link rootCause}. */
  private async failure(reason: unknown, settled: PromiseSettledResult<UploadResult>[]): Promise<Error> {
    const { signal, connection, inspector } = this.plan;
    this.killAll();
    if (this.keyTaken) {
      // As rootCause does: the killed children have exited before the error is reported.
      await Promise.allSettled(this.children.map((c) => c.done));
      return this.keyTaken;
    }
    if (this.countFailed && !signal?.aborted) {
      await Promise.allSettled(this.children.map((c) => c.done));
      return explainLockWait(this.countFailed, inspector);
    }
    this.claimErrors.forEach((error, i) => (settled[i] = { status: 'rejected', reason: error }));
    return explainLockWait(await rootCause(this.children, connection, settled, signal, reason), inspector);
  }

  private async cleanUp(onAbort: () => void, lockWatch: { stop(): Promise<void> }): Promise<void> {
    // Failed before the claims were handed over: release them (unless an archive was stored).
    if (!this.claimed) {
      const outcomes = await Promise.allSettled(this.claiming);
      const { stores } = this.plan;
      await Promise.all(
        outcomes.map(async (o, i) => {
          if (o.status === 'fulfilled') await releaseClaim(stores[i] as ObjectStore, o.value);
        }),
      );
    }
    this.plan.signal?.removeEventListener('abort', onAbort);
    this.killAll();
    await lockWatch.stop();
    // Both ends are closed by now unless something failed before the children started.
    this.pooled?.childEnd.destroy();
    this.pooled?.output.destroy();
    await this.session.close().catch(() => undefined);
    if (this.tempDir) await rm(this.tempDir, { recursive: true, force: true });
    await this.gpg?.close().catch(() => undefined);
  }
}
