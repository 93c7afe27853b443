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
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import { startS3Server, testS3Inputs, testS3Settings, type S3Server } from '../support/s3-server.js';
import { startWebhookReceiver, type ReceivedHook, type WebhookReceiver } from '../support/webhook-receiver.js';
import { FakeGitHub } from '../support/fake-github.js';
import { scanForSecrets } from '../support/secret-scan.js';

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
const DB_NAME = 'shop';
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
    [cluster, s3, hook] = await Promise.all([
      startCluster(),
      startS3Server(),
      startWebhookReceiver({ status: 500, text: (path) => `internal error handling ${path}` }),
    ]);
    await loadSampleDb(cluster, DB_NAME);
    await cluster.psql(
      'postgres',
      `CREATE ROLE ${DB_ROLE} LOGIN SUPERUSER PASSWORD '${DB_PASSWORD.replace(/'/g, "''")}'`,
    );
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
    expect(JSON.parse(hooks[0]?.raw as string)).toMatchObject({
      event: 'success',
      command: 'backup',
      database: DB_NAME,
      backupKey: key,
    });
    // The 500 (echoing the secret path) is reported by host only.
    expect(run.stdout).toMatch(new RegExp(`::warning::Webhook to 127\\.0\\.0\\.1:${hook.port} answered HTTP 500`));

    expectMaskedFirst(run, requiredMasks(s));
    expectNoLeak(
      run,
      s,
      hooks.map((h) => h.raw),
    );

    // Nor in what was stored beside the archive.
    const client = new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
    try {
      const manifest = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: run.outputs['manifest-key'] }));
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
    const payload = JSON.parse(hooks[0]?.raw as string) as {
      event: string;
      error: string | null;
      phase: string | null;
    };
    expect(payload).toMatchObject({ event: 'failure', command: 'backup', database: DB_NAME });
    expect(payload.error).toEqual(expect.any(String));
    expect(run.stdout).toMatch(new RegExp(`::warning::Webhook to 127\\.0\\.0\\.1:${hook.port} answered HTTP 500`));

    expectMaskedFirst(run, requiredMasks(s));
    expectNoLeak(
      run,
      s,
      hooks.map((h) => h.raw),
    );
  }, 180_000);
});

/**
 * A database URL with a password pasted into the wrong input (issue 17 item 7): `host`,
 * `target-host`, or an input whose error quotes its value (`label`). Each run fails naming the input,
 * and no channel holds the password in any encoding: stdout, stderr, the job summary, the failure
 * issue's body and comments (the fake GitHub API scans every request), the webhook payload (the
 * receiver scans every body). The masks are registered before any other line.
 */
describe.each(nodeBinaries())('a URL with a password in the wrong input, on $name', ({ path: node }) => {
  const TOKEN = 'ghs_WrongInputToken_5f0c2a9e';
  /** Special characters, so that the raw, percent-encoded, JSON-escaped and base64 forms all differ. */
  const PASSWORD = 'SENTINEL-wrongin-8e4d1c p@ss/w"rd\\x+y';
  const URL_WITH_PASSWORD = `postgres://app:${encodeURIComponent(PASSWORD)}@db.internal.example.com:5432/shop?sslmode=require`;
  let github: FakeGitHub;
  let hook: WebhookReceiver;
  let folder: string;

  beforeAll(async () => {
    [github, hook] = await Promise.all([
      FakeGitHub.start({ token: TOKEN, secrets: [PASSWORD] }),
      startWebhookReceiver({ status: 200 }, [PASSWORD]),
    ]);
    folder = (await import('node:fs')).mkdtempSync(
      (await import('node:path')).join((await import('node:os')).tmpdir(), 'wrong-input-'),
    );
  });
  afterAll(async () => {
    await Promise.all([github?.stop(), hook?.stop()]);
    if (folder) (await import('node:fs')).rmSync(folder, { recursive: true, force: true });
  });

  const githubEnv = (runId: number): Record<string, string> => ({
    GITHUB_API_URL: github.url,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_WORKFLOW: 'Nightly backup',
    GITHUB_JOB: 'backup',
    GITHUB_RUN_ID: String(runId),
    GITHUB_RUN_ATTEMPT: '1',
  });

  test.each<[string, Record<string, string>, RegExp]>([
    [
      'host',
      { host: URL_WITH_PASSWORD, username: 'app', database: 'shop' },
      /^::error::Input 'host': it holds a URL, not a host name .*Put a connection URL in 'database-url'/,
    ],
    [
      'target-host',
      {
        command: 'restore',
        database: 'shop',
        'target-host': URL_WITH_PASSWORD,
        'target-username': 'app',
        'target-database': 'restored',
      },
      /^::error::Input 'target-host': it holds a URL, not a host name .*Put a connection URL in 'target-database-url'/,
    ],
    [
      'host as user:password@host',
      { host: `app:${encodeURIComponent(PASSWORD)}@db.internal.example.com`, username: 'app', database: 'shop' },
      /^::error::Input 'host': it holds user or password information/,
    ],
    // An input whose error quotes the value: the message is redacted before it is printed or sent.
    [
      'label',
      { 'database-url': 'postgres://app@127.0.0.1:1/shop', label: URL_WITH_PASSWORD },
      /^::error::Input 'label': '\*\*\*' is not a valid label/,
    ],
    // The database name goes into the issue's title, table and the webhook's fields.
    ['database (command check)', { command: 'check', database: URL_WITH_PASSWORD }, /^::error::/],
  ])(
    '%s: exit 1 naming the input; the password in no channel',
    async (_name, given, expected) => {
      const requestsBefore = github.requests.length;
      const hooksBefore = hook.received.length;
      const run = await runAction({
        node,
        env: githubEnv(7000 + requestsBefore),
        inputs: {
          destination: `file://${folder}`,
          'github-token': TOKEN,
          'webhook-url': `${hook.url}/alerts`,
          ...given,
        },
      });
      expect(run.exitCode).toBe(1);
      const error = run.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
      expect(error).toMatch(expected);
      // The issue and the webhook were really written to (so their scans saw the error).
      const bodies = github.requests.slice(requestsBefore).filter((r) => r.method === 'POST');
      expect(bodies.length).toBeGreaterThan(0);
      expect(JSON.stringify(bodies.map((r) => r.body))).toContain(
        error.slice('::error::'.length, '::error::'.length + 20),
      );
      expect(hook.received.length).toBe(hooksBefore + 1);
      expect(github.leaks).toEqual([]);
      expect(hook.leaks).toEqual([]);
      const channels = {
        stdout: run.stdout,
        stderr: run.stderr,
        summary: run.summary,
        outputs: JSON.stringify(run.outputs),
      };
      expect(Object.entries(channels).flatMap(([where, text]) => scanForSecrets(where, text, [PASSWORD]))).toEqual([]);
      // Masked before anything else was printed: the password and its percent-encoding among the masks.
      expect(run.masks).toEqual(expect.arrayContaining([PASSWORD, encodeURIComponent(PASSWORD)]));
      expect(run.firstNonMaskLine).toBe(run.masks.length);
    },
    120_000,
  );

  test('failure issues were opened and commented on, none of them holding the password', () => {
    const shop = github.issues.filter((i) => i.body.includes("Input 'host': it holds a URL"));
    expect(shop).toHaveLength(1);
    expect(shop[0]?.comments.length).toBeGreaterThan(0);
    expect(github.issues.length).toBeGreaterThanOrEqual(2);
    for (const issue of github.issues) {
      const texts = [issue.title, issue.body, ...issue.comments.map((c) => c.body)].join('\n');
      expect(scanForSecrets(`issue ${issue.number}`, texts, [PASSWORD, 'SENTINEL-wrongin-8e4d1c'])).toEqual([]);
      expect(texts).not.toContain('db.internal.example.com');
    }
  });
});
