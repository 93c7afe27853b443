/**
 * Webhook payloads are redacted as the log is masked (issue 17 item 7): the real notifyWebhook
 * POSTs to a local receiver that scans every body for the secret in all its encodings (raw,
 * percent-, form-encoded, JSON-escaped, base64). Both payload shapes: the generic JSON and Slack's
 * (chosen by a /services/T…/B…/… path), whose escaping (&amp; &lt; &gt;, ``` → ''') would hide a
 * secret from a redaction made after it.
 */
import { notifyWebhook, type ReportEvent } from '../../src/report/webhook.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const CORE = 'SENTINEL-hook-3a9f';
const SECRET = `${CORE} <&> "q" \\ b+c/d`;
const log = { info: () => {}, warning: () => {}, group: <T>(_name: string, fn: () => Promise<T>) => fn() };

let receiver: WebhookReceiver;
beforeAll(async () => {
  // The core too: any partial form (e.g. Slack's &lt;&amp;&gt; escaping of the secret) still holds it.
  receiver = await startWebhookReceiver({ status: 200 }, [SECRET, CORE]);
});
afterAll(async () => {
  await receiver?.stop();
});

/** A failure whose every text field quotes the secret in some form. */
function event(): ReportEvent {
  return {
    event: 'failure',
    command: 'backup',
    database: `shop ${SECRET}`,
    phase: 'config',
    error: `Input 'label': 'postgres://app:${encodeURIComponent(SECRET)}@h/db' is not valid; raw ${SECRET}; json ${JSON.stringify({ p: SECRET })}; b64 ${Buffer.from(`x${SECRET}`).toString('base64')}`,
    runUrl: 'https://github.example/acme/shop/actions/runs/1',
    lastSuccess: { key: `prod/shop/${SECRET}.dump`, time: new Date('2026-12-01T00:00:00Z') },
    time: new Date('2026-12-07T00:00:00Z'),
  };
}

test.each([
  ['generic JSON', '/alerts/generic'],
  ['Slack', '/services/T0ABC/B0DEF/xyz123'],
])('%s payload: sent, and the secret is in none of its encodings', async (_name, path) => {
  const before = receiver.received.length;
  const outcome = await notifyWebhook({ webhookUrl: `${receiver.url}${path}`, notifyOn: 'always' }, event(), log, {
    secrets: [SECRET],
  });
  expect(outcome).toBe('sent');
  expect(receiver.received.length).toBe(before + 1);
  const body = receiver.received.at(-1)?.raw ?? '';
  expect(body).toContain('***');
  expect(body).toContain(path.startsWith('/services') ? '"blocks"' : '"event":"failure"');
  expect(receiver.leaks).toEqual([]);
});

test('the receiver does find an unredacted secret (the scan can fail)', async () => {
  const probe = await startWebhookReceiver({ status: 200 }, [SECRET]);
  try {
    await fetch(`${probe.url}/x`, {
      method: 'POST',
      body: JSON.stringify({ text: `a ${Buffer.from(`yz${SECRET}`).toString('base64')}` }),
    });
    expect(probe.leaks.length).toBeGreaterThan(0);
  } finally {
    await probe.stop();
  }
});
