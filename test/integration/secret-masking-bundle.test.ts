/**
 * Secret masking of the committed bundle (dist/index.js), run as the runner runs it, against a real
 * PostgreSQL cluster, a real S3 server (s3rver) and a local webhook receiver that answers 500, all
 * on 127.0.0.1.
 *
 * Secrets under test, each a grep-able sentinel: the database password (inside database-url), the
 * S3 secret access key, the encryption passphrase and the webhook URL (its path and query are the
 * secret). For a successful backup and for a failing one (a bucket that does not exist), every run
 * must
 *  - register each secret and the derived forms the action promises with `::add-mask::`, and do so
 *    before any other stdout line (the runner masks only from the add-mask command on);
 *  - print none of them, in any form, to stdout or stderr, the step outputs or the job summary;
 *  - send none of them in the webhook's request body.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { nodeBinaries, runAction, type ActionRun } from '../support/action-runner.js';
import { loadPagila, startCluster, type Cluster } from '../support/pg-cluster.js';
import { startS3Server, testS3Inputs, testS3Settings, type S3Server } from '../support/s3-server.js';
import { startWebhookReceiver, type ReceivedHook, type WebhookReceiver } from '../support/webhook-receiver.js';

/** Unique cores: every derived form (raw, URL- or form-encoded) of a sentinel contains its core. */
const CORE = {
  dbPassword: 'SENTINEL-dbpw-3c91e0',
  s3Secret: 'SENTINEL-s3secret-a64d2b',
  passphrase: 'SENTINEL-passphrase-7f3a5e',
  hookPath: 'SENTINEL-hookpath-5d1e88',
  hookKey: 'SENTINEL-hookkey-b72c09',
} as const;

/** Special characters so that the encoded forms differ from the raw ones. */
const DB_PASSWORD = `${CORE.dbPassword} p@ss:/w%rd&x=y+z`;
const S3_SECRET = `${CORE.s3Secret}/wJalrXUtnFEMI+K7MDENG`;
const PASSPHRASE = `${CORE.passphrase} correct horse+battery/staple`;
/** The webhook's query value as sent (`+` encoded) and as decoded. */
const HOOK_KEY_DECODED = `${CORE.hookKey}+Q9`;
const HOOK_KEY_ENCODED = `${CORE.hookKey}%2BQ9`;

const DB_ROLE = 'masked_backup';
const DB_NAME = 'pagila';
const BUCKET = 'mask-test';

/** Form encoding (application/x-www-form-urlencoded), written out: space → '+', the rest percent-encoded. */
function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface Secrets {
  databaseUrl: string;
  webhookUrl: string;
  hookPathname: string;
  hookPathAndQuery: string;
}

function secretsFor(cluster: Cluster, hookPort: number): Secrets {
  const hookPathname = `/hooks/${CORE.hookPath}/T0`;
  const hookPathAndQuery = `${hookPathname}?key=${HOOK_KEY_ENCODED}&v=1`;
  return {
    databaseUrl: cluster.url(DB_NAME, DB_ROLE, DB_PASSWORD),
    webhookUrl: `http://127.0.0.1:${hookPort}${hookPathAndQuery}`,
    hookPathname,
    hookPathAndQuery,
  };
}

/** What the action must register with ::add-mask:: (README "Secrets", src/config/mask.ts, reporting, encryption). */
function requiredMasks(s: Secrets): string[] {
  return [
    // database-url as given, the password as written in it (URL-encoded), decoded, and form-encoded.
    s.databaseUrl,
    DB_PASSWORD,
    encodeURIComponent(DB_PASSWORD),
    formEncode(DB_PASSWORD),
    // s3-secret-access-key.
    S3_SECRET,
    // encryption-passphrase.
    PASSPHRASE,
    // webhook-url: as written, its path+query, its path, and its query value (decoded).
    s.webhookUrl,
    s.hookPathAndQuery,
    s.hookPathname,
    HOOK_KEY_DECODED,
  ];
}

/** Every string that must never be written: the masks, other encodings, and each sentinel's core. */
function forbiddenForms(s: Secrets): string[] {
  const forms = new Set<string>([...requiredMasks(s), ...Object.values(CORE), HOOK_KEY_ENCODED]);
  for (const secret of [DB_PASSWORD, S3_SECRET, PASSPHRASE, HOOK_KEY_DECODED]) {
    forms.add(encodeURIComponent(secret));
    forms.add(formEncode(secret));
  }
  return [...forms];
}

/** `channel: "form"` for every forbidden form found in a channel. */
function leaks(channels: Record<string, string>, forms: string[]): string[] {
  const found: string[] = [];
  for (const [channel, text] of Object.entries(channels)) {
    for (const form of forms) if (text.includes(form)) found.push(`${channel}: ${JSON.stringify(form)}`);
  }
  return found;
}

/** The run's own channels, each named so a leak says where it is. */
function channelsOf(run: ActionRun): Record<string, string> {
  const channels: Record<string, string> = { stdout: run.stdout, stderr: run.stderr, summary: run.summary };
  for (const [name, value] of Object.entries(run.outputs)) channels[`output ${name}`] = `${name}=${value}`;
  return channels;
}

/** Masks registered before the first other stdout line, and each required one among them. */
function expectMaskedFirst(run: ActionRun, required: string[]): void {
  const missing = required.filter((m) => !run.masks.includes(m));
  expect(missing).toEqual([]);
  // firstNonMaskLine counts the add-mask lines before any other line: all of them only when none came later.
  expect(run.firstNonMaskLine).toBeGreaterThan(0);
  expect(run.firstNonMaskLine).toBe(run.masks.length);
}

function expectNoLeak(run: ActionRun, s: Secrets, hookBodies: string[]): void {
  const channels = channelsOf(run);
  hookBodies.forEach((body, i) => (channels[`webhook body ${i}`] = body));
  expect(leaks(channels, forbiddenForms(s))).toEqual([]);
}

describe.each(nodeBinaries())('secret masking of dist/index.js on $name', ({ path: node }) => {
  let cluster: Cluster;
  let s3: S3Server;
  let hook: WebhookReceiver;
  let s: Secrets;

  beforeAll(async () => {
    [cluster, s3, hook] = await Promise.all([startCluster(), startS3Server(), startWebhookReceiver({ status: 500, text: (path) => `internal error handling ${path}` })]);
    await loadPagila(cluster, DB_NAME);
    await cluster.psql('postgres', `CREATE ROLE ${DB_ROLE} LOGIN SUPERUSER PASSWORD '${DB_PASSWORD.replace(/'/g, "''")}'`);
    await s3.createBucket(BUCKET);
    s = secretsFor(cluster, hook.port);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([cluster?.stop(), s3?.stop(), hook?.stop()]);
  });

  const inputs = (destination: string): Record<string, string> => ({
    'database-url': s.databaseUrl,
    destination,
    ...testS3Inputs(s3.endpoint),
    's3-secret-access-key': S3_SECRET,
    'encryption-passphrase': PASSPHRASE,
    'webhook-url': s.webhookUrl,
    'notify-on': 'always',
    label: 'masked',
  });

  /** Runs the bundle and returns the run with the webhook requests it caused. */
  async function runWithHook(destination: string): Promise<{ run: ActionRun; hooks: ReceivedHook[] }> {
    const before = hook.received.length;
    const run = await runAction({ node, inputs: inputs(destination), timeoutMs: 150_000 });
    return { run, hooks: hook.received.slice(before) };
  }

  test('a successful encrypted backup to S3: secrets masked first, never printed, not in the webhook', async () => {
    const { run, hooks } = await runWithHook(`s3://${BUCKET}/prod`);
    expect(run.stdout + run.stderr).not.toMatch(/::error::/);
    expect(run.exitCode).toBe(0);
    // The secrets were really used: an encrypted archive, uploaded, the webhook called.
    const key = run.outputs['backup-key'] as string;
    expect(key).toMatch(new RegExp(`^prod/${DB_NAME}/\\d{4}-\\d{2}-\\d{2}T\\d{6}Z-masked\\..*\\.gpg$`));
    expect(hooks).toHaveLength(1);
    expect(hooks[0]?.method).toBe('POST');
    expect(hooks[0]?.path).toBe(s.hookPathAndQuery);
    expect(JSON.parse(hooks[0]?.raw as string)).toMatchObject({ event: 'success', command: 'backup', database: DB_NAME, backupKey: key });
    // The 500 (echoing the secret path) is reported by host only.
    expect(run.stdout).toMatch(new RegExp(`::warning::Webhook to 127\\.0\\.0\\.1:${hook.port} answered HTTP 500`));

    expectMaskedFirst(run, requiredMasks(s));
    expectNoLeak(run, s, hooks.map((h) => h.raw));

    // Nor in what was stored beside the archive.
    const client = new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
    try {
      const manifest = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: run.outputs['manifest-key'] as string }));
      const text = await manifest.Body?.transformToString('utf8');
      expect(text).toContain(key);
      expect(leaks({ manifest: text ?? '' }, forbiddenForms(s))).toEqual([]);
    } finally {
      client.destroy();
    }
  }, 180_000);

  test('a failing backup (bucket does not exist): masked first, failure reported to the webhook without secrets', async () => {
    const { run, hooks } = await runWithHook('s3://no-such-bucket-7e1/prod');
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::/);
    expect(run.outputs['backup-key']).toBeUndefined();
    expect(hooks).toHaveLength(1);
    expect(hooks[0]?.path).toBe(s.hookPathAndQuery);
    const payload = JSON.parse(hooks[0]?.raw as string) as { event: string; error: string | null; phase: string | null };
    expect(payload).toMatchObject({ event: 'failure', command: 'backup', database: DB_NAME });
    expect(payload.error).toEqual(expect.any(String));
    expect(run.stdout).toMatch(new RegExp(`::warning::Webhook to 127\\.0\\.0\\.1:${hook.port} answered HTTP 500`));

    expectMaskedFirst(run, requiredMasks(s));
    expectNoLeak(run, s, hooks.map((h) => h.raw));
  }, 180_000);
});
