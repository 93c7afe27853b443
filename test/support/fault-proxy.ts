/**
 * A fault-injecting HTTP proxy in front of an S3 server (s3rver, see s3-server.ts), built on
 * {@link startS3Proxy}: requests go on unchanged (SigV4 signatures still match) unless a rule
 * matches them. Faults, per rule:
 * - `latencyMs`: the request waits this long before it is forwarded;
 * - `bytesPerSecond`: request and answer bodies flow at most this fast (a slow but real transfer);
 * - `stallRequestAfter`: the request's body is forwarded up to N bytes, then the proxy stops reading
 *   it and never answers (the client's socket fills, then nothing moves): per request, or per
 *   connection (N counts every request body on that TCP connection);
 * - `stallAnswerAfter`: the answer's body is sent up to N bytes, then nothing more;
 * - `failOneIn`: 1 in K matching requests is answered `status` (default 500 InternalError) once its
 *   body was read, without reaching the server (the Kth, 2Kth, …);
 * - `resetAfter`: the connection is reset (TCP RST) after N bytes of the request's body, for the
 *   first `times` matching requests (default 1).
 * The first matching rule applies. {@link FaultProxy.tries} records each request's arrival and end
 * (when the client or the proxy closed it), to measure how long a client waited on a stalled try.
 *
 * Exported for other tests: s3rver itself ignores If-None-Match, so it already is a store that
 * ignores conditional writes; `latencyMs` on one run's CompleteMultipartUpload (match on the key
 * and `uploadId`) makes two runs overlap where a race needs them to.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex, Transform, type TransformCallback } from 'node:stream';

import { answerS3Error, startS3Proxy, type Forward, type ProxiedRequest, type S3Proxy } from './s3-server.js';

export interface FaultRule {
  /** Which requests the rule applies to; default: every request. */
  match?: (request: ProxiedRequest) => boolean;
  latencyMs?: number;
  bytesPerSecond?: number;
  stallRequestAfter?: { bytes: number; per?: 'request' | 'connection' };
  stallAnswerAfter?: { bytes: number };
  failOneIn?: { k: number; status?: number; code?: string };
  resetAfter?: { bytes: number; times?: number };
}

/** One request as the proxy saw it. */
export interface ProxiedTry {
  request: ProxiedRequest;
  /** ms (Date.now()) when it arrived, and when its exchange ended (undefined while open). */
  startedAt: number;
  endedAt?: number;
  /** The fault applied, if any. */
  fault?: 'stalled' | 'failed' | 'reset';
}

export interface FaultProxy extends S3Proxy {
  tries: ProxiedTry[];
  /** Replaces the rules (requests already in flight keep theirs). */
  setRules(rules: FaultRule[]): void;
}

/** UploadPart requests (`PUT …?partNumber=N&uploadId=…`). */
export const isUploadPart = (r: ProxiedRequest): boolean =>
  r.method === 'PUT' && r.query.has('partNumber') && r.query.has('uploadId');
/** GetObject requests (not listings). */
export const isGetObject = (r: ProxiedRequest): boolean =>
  r.method === 'GET' && r.key !== '' && !r.query.has('list-type');

/** Passes `budget()` bytes, then holds the rest forever (never calls back): the writer stalls. */
class StallAfter extends Transform {
  constructor(
    private readonly budget: (wanted: number) => number,
    private readonly onStall: () => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const allowed = this.budget(chunk.length);
    if (allowed >= chunk.length) {
      callback(null, chunk);
      return;
    }
    if (allowed > 0) this.push(chunk.subarray(0, allowed));
    this.onStall();
    // No callback: nothing more is read from the client, which fills its socket and stops.
  }
}

/** Passes bytes at most `bytesPerSecond` fast. */
class Throttle extends Transform {
  constructor(private readonly bytesPerSecond: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const slice = Math.max(1, Math.floor(this.bytesPerSecond / 10));
    let at = 0;
    const next = (): void => {
      if (this.destroyed) return;
      if (at >= chunk.length) {
        callback();
        return;
      }
      const piece = chunk.subarray(at, at + slice);
      at += piece.length;
      this.push(piece);
      setTimeout(next, (piece.length / this.bytesPerSecond) * 1000);
    };
    next();
  }
}

/** Resets the client's connection once `bytes` of the request's body went through. */
class ResetAfter extends Transform {
  private seen = 0;
  constructor(
    private readonly bytes: number,
    private readonly socket: Socket,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen >= this.bytes) {
      this.socket.resetAndDestroy();
      return;
    }
    callback(null, chunk);
  }
}

/**
 * Starts a {@link FaultProxy} on 127.0.0.1 in front of the S3 server listening on `upstreamPort`.
 */
export async function startFaultProxy(upstreamPort: number, rules: FaultRule[] = []): Promise<FaultProxy> {
  let current = rules;
  const tries: ProxiedTry[] = [];
  const counts = new Map<FaultRule, number>();
  const resets = new Map<FaultRule, number>();
  const connectionBytes = new WeakMap<Socket, number>();

  const route = (request: ProxiedRequest, req: IncomingMessage, res: ServerResponse, forward: Forward): void => {
    const entry: ProxiedTry = { request, startedAt: Date.now() };
    tries.push(entry);
    const ended = (): void => {
      entry.endedAt ??= Date.now();
    };
    res.on('close', ended);
    req.socket.once('close', ended);
    const rule = current.find((r) => (r.match ? r.match(request) : true));
    if (!rule) {
      forward();
      return;
    }
    const n = (counts.get(rule) ?? 0) + 1;
    counts.set(rule, n);
    if (rule.failOneIn && n % rule.failOneIn.k === 0) {
      entry.fault = 'failed';
      req.resume();
      req.on('end', () =>
        answerS3Error(
          req,
          res,
          rule.failOneIn?.status ?? 500,
          rule.failOneIn?.code ?? 'InternalError',
          'Injected by the fault proxy.',
        ),
      );
      return;
    }
    const socket = req.socket;
    const requestStages: Transform[] = [];
    const answerStages: Transform[] = [];
    if (rule.resetAfter && (resets.get(rule) ?? 0) < (rule.resetAfter.times ?? 1)) {
      resets.set(rule, (resets.get(rule) ?? 0) + 1);
      entry.fault = 'reset';
      requestStages.push(new ResetAfter(rule.resetAfter.bytes, socket));
    }
    if (rule.stallRequestAfter) {
      const { bytes, per = 'request' } = rule.stallRequestAfter;
      let own = 0;
      requestStages.push(
        new StallAfter(
          (wanted) => {
            const used = per === 'connection' ? (connectionBytes.get(socket) ?? 0) : own;
            const allowed = Math.max(0, Math.min(wanted, bytes - used));
            if (per === 'connection') connectionBytes.set(socket, used + allowed);
            else own += allowed;
            return allowed;
          },
          () => {
            entry.fault = 'stalled';
          },
        ),
      );
    }
    if (rule.stallAnswerAfter) {
      let sent = 0;
      const limit = rule.stallAnswerAfter.bytes;
      answerStages.push(
        new StallAfter(
          (wanted) => {
            const allowed = Math.max(0, Math.min(wanted, limit - sent));
            sent += allowed;
            return allowed;
          },
          () => {
            entry.fault = 'stalled';
          },
        ),
      );
    }
    if (rule.bytesPerSecond) {
      requestStages.push(new Throttle(rule.bytesPerSecond));
      answerStages.push(new Throttle(rule.bytesPerSecond));
    }
    const chain = (stages: Transform[]): Duplex | undefined => {
      if (stages.length <= 1) return stages[0];
      for (let i = 0; i + 1 < stages.length; i++) (stages[i] as Transform).pipe(stages[i + 1] as Transform);
      return Duplex.from({ writable: stages[0] as Transform, readable: stages[stages.length - 1] as Transform });
    };
    const through = { request: chain(requestStages), response: chain(answerStages) };
    const go = (): void =>
      forward(undefined, {
        ...(through.request ? { request: through.request } : {}),
        ...(through.response ? { response: through.response } : {}),
      });
    if (rule.latencyMs) setTimeout(go, rule.latencyMs);
    else go();
  };

  const proxy = await startS3Proxy(upstreamPort, route);
  return {
    ...proxy,
    tries,
    setRules(next: FaultRule[]) {
      current = next;
    },
  };
}
