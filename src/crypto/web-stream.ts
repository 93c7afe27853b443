import { Duplex } from 'node:stream';
import { STREAM_HIGH_WATER_MARK } from '../pipeline/stages.js';

/** Builds the output Web stream from the input Web stream (OpenPGP.js v6 works on Web Streams only). */
export type WebTransform = (input: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>;

/**
 * A Node Duplex around a Web Streams transformation, with back-pressure both ways and bounded
 * memory (unlike `Readable.toWeb`, whose default strategy counts chunks against a byte-sized
 * high-water mark and so buffers without bound).
 *
 * Writable side: a chunk written is handed to the Web input stream only when its reader pulls
 * (queue of one chunk); the write callback runs then, so a fast producer waits for the transform.
 * Readable side: the Web output is read one chunk per `_read`, and not again while `push` says the
 * Node buffer (1 MiB) is full. The output is read only once `transform` has resolved, so nothing
 * is emitted before it has (e.g. before the session key is decrypted).
 *
 * Errors: a rejection of `transform` or of an output read destroys the Duplex with `mapError(e)`;
 * destroying the Duplex cancels the output and errors the input, which stops the transform.
 */
export class WebStreamStage extends Duplex {
  /** Resolves when `transform` has resolved (the output is ready); rejects with the mapped error. */
  readonly ready: Promise<void>;
  private readonly input: ReadableStream<Uint8Array>;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private pending: { chunk: Uint8Array; callback: (error?: Error | null) => void } | undefined;
  private pullRequest: (() => void) | undefined;
  private inputEnded = false;
  private inputClosed = false;
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private wanted = false;
  private pumping = false;

  constructor(
    transform: WebTransform,
    private readonly mapError: (error: unknown) => Error,
  ) {
    super({ readableHighWaterMark: STREAM_HIGH_WATER_MARK, writableHighWaterMark: STREAM_HIGH_WATER_MARK });
    this.input = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () =>
          new Promise<void>((resolve) => {
            this.pullRequest = () => {
              this.pullRequest = undefined;
              resolve();
            };
            this.serve();
          }),
        cancel: () => {
          // The transform stopped reading (it failed, or the message ended): drop what comes next.
          this.inputClosed = true;
          const pending = this.pending;
          this.pending = undefined;
          pending?.callback();
        },
      },
      { highWaterMark: 1 },
    );
    this.ready = transform(this.input).then(
      (output) => {
        if (this.destroyed) {
          output.cancel().catch(() => undefined);
          return;
        }
        this.reader = output.getReader();
        void this.pump();
      },
      (error: unknown) => {
        const mapped = this.mapError(error);
        this.destroy(mapped);
        throw mapped;
      },
    );
    this.ready.catch(() => undefined);
  }

  /** Hands the pending chunk (or the end) to a waiting pull of the Web input. */
  private serve(): void {
    if (!this.pullRequest || !this.controller) return;
    if (this.pending) {
      const { chunk, callback } = this.pending;
      this.pending = undefined;
      this.controller.enqueue(chunk);
      this.pullRequest();
      callback();
    } else if (this.inputEnded && !this.inputClosed) {
      this.inputClosed = true;
      this.controller.close();
      this.pullRequest();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inputClosed) {
      callback();
      return;
    }
    this.pending = { chunk, callback };
    this.serve();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inputEnded = true;
    this.serve();
    callback();
  }

  override _read(): void {
    this.wanted = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping || !this.reader) return;
    this.pumping = true;
    try {
      while (this.wanted && !this.destroyed) {
        const { done, value } = await this.reader.read();
        if (this.destroyed) return;
        if (done) {
          this.push(null);
          return;
        }
        if (value.byteLength === 0) continue;
        this.wanted = this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch (error) {
      if (!this.destroyed) this.destroy(this.mapError(error));
    } finally {
      this.pumping = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const reason = error ?? new Error('stream destroyed');
    this.reader?.cancel(reason).catch(() => undefined);
    if (!this.inputClosed) {
      this.inputClosed = true;
      try {
        this.controller?.error(reason);
      } catch {
        // already closed or errored
      }
    }
    this.pending = undefined;
    this.pullRequest?.();
    callback(error);
  }
}
