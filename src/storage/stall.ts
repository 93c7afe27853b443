/**
 * Stall detection for the S3 client's connections: an HTTP(S) agent whose sockets fail once nothing
 * moved on them for the configured timeout (`s3-timeout`), with an error that says "stalled".
 *
 * Why not the SDK's `socketTimeout`: @smithy/node-http-handler implements it with Node's
 * `socket.setTimeout`, and Node suppresses the first idle timeout of a socket whose last write was
 * still being flushed when it was written (net.Socket `_onTimeout`: "an active write in progress"):
 * an UploadPart whose body the server stops reading is failed only after a second full timeout.
 * The handler also arms timeouts of 6 s or more 3 s late. Hence 120 s configured, ~243 s per try
 * (measured: 1,219 s for 5 tries). Here a timer looks at each busy socket every
 * min(timeout / 10, 1 s) and fails it when neither its bytes read, its bytes handed to the socket
 * nor its queue of bytes not yet taken by the kernel changed for the timeout, so a try fails within
 * the timeout plus one tick.
 *
 * Only the server's silence counts: while the response's reader is not reading (a restore whose
 * pg_restore is busy), data waits in our buffers and the socket is paused, which is not a stall.
 */
import { Agent as HttpAgent, type AgentOptions, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';

/** `code` of a {@link StallError}. */
export const STALL_CODE = 'S3Stalled';

/** Where in the exchange the server stopped: sending it the request, awaiting its answer, or receiving its body. */
export type StallPhase = 'request' | 'answer' | 'body';

/**
 * A connection to the S3 server was established (the server accepted it, maybe answered) and then
 * nothing moved on it for `seconds`. Retryable (`$retryable`): the SDK's retry strategy tries again.
 */
export class StallError extends Error {
  readonly code = STALL_CODE;
  /** Read by the SDK's retry strategy (`isRetryableByTrait`): a stalled try is tried again. */
  readonly $retryable = {};
  constructor(
    /** The request, as the S3 operation it is (`UploadPart 3`, `GetObject`, …). */
    readonly operation: string,
    readonly seconds: number,
    readonly phase: StallPhase,
  ) {
    const what =
      phase === 'body'
        ? `the S3 server answered ${operation} and then stopped sending its body for ${formatSeconds(seconds)}`
        : phase === 'answer'
          ? `the S3 server accepted the connection and the whole ${operation} request and then sent no answer for ${formatSeconds(seconds)}`
          : `the S3 server accepted the connection and then stopped answering for ${formatSeconds(seconds)} during ${operation}`;
    super(`${what}; it stalled`);
    this.name = 'StallError';
  }
}

function formatSeconds(seconds: number): string {
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

/**
 * The S3 operation of a path-style or virtual-hosted request (pure), for messages: `UploadPart 3`,
 * `PutObject`, `CreateMultipartUpload`, `CompleteMultipartUpload`, `AbortMultipartUpload`,
 * `GetObject`, `HeadObject`, `ListObjectsV2`, `DeleteObjects`, `DeleteObject`, else `METHOD request`.
 */
export function s3Operation(method: string, path: string): string {
  const query = new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
  const part = query.get('partNumber');
  switch (method) {
    case 'PUT':
      if (part !== null && query.has('uploadId')) return `UploadPart ${part}`;
      return 'PutObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      if (query.has('delete')) return 'DeleteObjects';
      return 'POST request';
    case 'DELETE':
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'HEAD':
      return 'HeadObject';
    case 'GET':
      return query.has('list-type') ? 'ListObjectsV2' : 'GetObject';
    default:
      return `${method} request`;
  }
}

interface Watched {
  socket: Duplex & { bytesRead: number; bytesWritten: number; _handle?: { writeQueueSize?: unknown } | null };
  req: ClientRequest;
  res?: IncomingMessage;
  fingerprint: string;
  since: number;
}

/** What moved on a socket: bytes read, bytes handed to it, bytes still queued for the kernel. */
function fingerprint(w: Watched): string {
  const queued = w.socket._handle?.writeQueueSize;
  return `${w.socket.bytesRead}/${w.socket.bytesWritten}/${typeof queued === 'number' ? queued : ''}`;
}

/**
 * True when the answer's body waits on our side (its reader is not reading, so Node paused the
 * socket): not the server's silence. Before the answer the server owes us bytes, whatever we do.
 */
function waitingOnUs(w: Watched): boolean {
  return w.res !== undefined && (w.res.readableLength > 0 || w.socket.isPaused() || w.socket.readableLength > 0);
}

/** Fails requests on sockets where nothing moved for `timeoutMs`; shared by the HTTP and HTTPS agents of one client. */
export class StallWatchdog {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(readonly timeoutMs: number) {
    this.tickMs = Math.max(50, Math.min(1000, Math.floor(timeoutMs / 10)));
  }

  /** Watches `req` from when it has a socket until it is closed (answer read to its end, or failed). */
  watch(req: ClientRequest): void {
    req.once('socket', (socket) => {
      const w: Watched = { socket: socket, req, fingerprint: '', since: Date.now() };
      const start = (): void => {
        w.fingerprint = fingerprint(w);
        w.since = Date.now();
        this.watched.add(w);
        this.timer ??= setInterval(() => this.tick(), this.tickMs).unref();
      };
      // Connecting is bounded by the handler's connectionTimeout ("could not reach"), not by this.
      if ((socket as { connecting?: boolean }).connecting) socket.once('connect', start);
      else start();
      req.once('response', (res: IncomingMessage) => {
        w.res = res;
      });
      req.once('close', () => {
        this.watched.delete(w);
        if (this.watched.size === 0 && this.timer) {
          clearInterval(this.timer);
          this.timer = undefined;
        }
      });
    });
  }

  private tick(): void {
    const now = Date.now();
    for (const w of this.watched) {
      const current = fingerprint(w);
      if (current !== w.fingerprint || waitingOnUs(w)) {
        w.fingerprint = current;
        w.since = now;
        continue;
      }
      if (now - w.since < this.timeoutMs) continue;
      this.watched.delete(w);
      const phase: StallPhase = w.res
        ? 'body'
        : w.req.writableFinished && w.socket.writableLength === 0 && !(Number(w.socket._handle?.writeQueueSize) > 0)
          ? 'answer'
          : 'request';
      const error = new StallError(s3Operation(w.req.method, w.req.path), this.timeoutMs / 1000, phase);
      // A stalled body fails its reader with this error rather than Node's "aborted".
      if (w.res && !w.res.complete) w.res.destroy(error);
      w.socket.destroy(error);
    }
  }

  /** Stops watching (the client is destroyed). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }
}

/** The Agent method, undocumented, through which Node's http client gives every request its socket. */
interface AgentInternals {
  addRequest: (req: ClientRequest, options: unknown) => void;
}

/** Keep-alive agents as the SDK makes them (50 sockets), whose requests a {@link StallWatchdog} watches. */
export function watchedAgents(watchdog: StallWatchdog): { httpAgent: HttpAgent; httpsAgent: HttpsAgent } {
  const options: AgentOptions = { keepAlive: true, maxSockets: 50 };
  return {
    httpAgent: watched(new HttpAgent(options), watchdog),
    httpsAgent: watched(new HttpsAgent(options), watchdog),
  };
}

/** `agent`, with each request watched by `watchdog` and the watchdog closed when the agent is destroyed. */
function watched<A extends HttpAgent>(agent: A, watchdog: StallWatchdog): A {
  const internals = agent as unknown as AgentInternals;
  const addRequest = internals.addRequest.bind(agent);
  internals.addRequest = (req, options) => {
    watchdog.watch(req);
    addRequest(req, options);
  };
  const destroy = agent.destroy.bind(agent);
  agent.destroy = () => {
    watchdog.close();
    destroy();
  };
  return agent;
}
