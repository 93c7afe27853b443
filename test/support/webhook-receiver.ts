/**
 * A webhook receiver on 127.0.0.1 for tests of the action's webhook: it records every request
 * and answers as `answer` says (which a test may change between runs).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scanForSecrets } from './secret-scan.js';

export interface ReceivedHook {
  method: string;
  /** Path and query, as received. */
  path: string;
  contentType: string | undefined;
  /** The body as sent. */
  raw: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  body: unknown;
}

export interface WebhookAnswer {
  status: number;
  /** Never answer (to test the sender's timeout). */
  hang?: boolean;
  /** The answer's text for a request path; by default 'ok' for 200, else 'internal_error'. */
  text?: (path: string) => string;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedHook[];
  answer: WebhookAnswer;
  /** `POST body n: "form"` for each encoding of the `secrets` given at start found in a body. */
  leaks: string[];
  stop(): Promise<void>;
}

/**
 * Starts the receiver. `secrets`: every request body is scanned for them in all encodings
 * (secret-scan.ts); what is found is listed in `leaks`.
 */
export async function startWebhookReceiver(
  answer: WebhookAnswer = { status: 200 },
  secrets: string[] = [],
): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const leaks: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const path = req.url ?? '';
      leaks.push(...scanForSecrets(`${req.method ?? ''} body ${received.length}`, raw, secrets));
      received.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], raw, body });
      if (receiver.answer.hang) return;
      res.statusCode = receiver.answer.status;
      res.setHeader('content-type', 'text/plain');
      res.end(
        receiver.answer.text ? receiver.answer.text(path) : receiver.answer.status === 200 ? 'ok' : 'internal_error',
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    answer,
    leaks,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return receiver;
}
