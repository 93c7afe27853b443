/**
 * Heartbeats through the committed bundle (dist/index.js run as a process, as the runner does): a
 * real PostgreSQL cluster with a small sample database backed up into a local folder, and a local
 * HTTP receiver standing in for the outside monitor (Healthchecks.io's URL shape).
 *
 * - a good backup pings `<url>/start` then `<url>`, the body naming the database and the backup;
 * - a backup that fails after it started (the server refuses the password) pings `<url>/start`
 *   then `<url>/fail` with the error, and the password is in no request in any encoding;
 * - a bad `heartbeat-url` fails the run before any work, naming the input;
 * - a monitor that is down, and one that accepts connections and never answers: the backup still
 *   succeeds, with a warning per ping; the hanging monitor is asked at most twice per ping (the
 *   bound of the delay: 2 attempts of 5 s per ping, 2 pings per run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { freePort, loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const PASSWORD = 'Heartbeat-pw-Q7x2_s3ntinel';
/** The monitor's token, in the URL's path as Healthchecks.io's is. */
const TOKEN = '5c1d2b7e-hb-token-0a9f';

let cluster: Cluster;
let work: string;
let monitor: WebhookReceiver;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'heartbeat-bundle-'));
  [cluster, monitor] = await Promise.all([startCluster(), startWebhookReceiver({ status: 200 }, [PASSWORD, TOKEN])]);
  await loadSampleDb(cluster, 'shop', 0.05);
  await cluster.psql('postgres', `CREATE ROLE backup LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
}, 180_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), monitor?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

function backup(heartbeatUrl: string, password = PASSWORD): Promise<ActionRun> {
  return runAction({
    inputs: {
      'database-url': cluster.url('shop', 'backup', password),
      destination: `file://${path.join(work, 'backups')}`,
      'heartbeat-url': heartbeatUrl,
    },
  });
}

/** The `::warning::` lines of a run. */
function warnings(run: ActionRun): string[] {
  return run.stdout.split('\n').filter((l) => l.startsWith('::warning::'));
}

test('a good backup pings start, then success with its summary', async () => {
  monitor.received.length = 0;
  const run = await backup(`${monitor.url}/ping/${TOKEN}`);
  expect(run.exitCode).toBe(0);
  expect(monitor.received.map((r) => `${r.method} ${r.path}`)).toEqual([
    `POST /ping/${TOKEN}/start`,
    `POST /ping/${TOKEN}`,
  ]);
  expect(monitor.received[0]?.raw).toBe('Backup started: shop.');
  expect(monitor.received[1]?.raw).toBe(`Backup succeeded: shop, backup ${run.outputs['backup-key']}.`);
  expect(warnings(run)).toEqual([]);
  // The token is masked before any other work, and no log line shows the URL.
  expect(run.masks).toContain(TOKEN);
  expect(run.stdout).not.toContain(TOKEN);
}, 120_000);

test('a failed backup pings fail with the error, and the password is in no ping', async () => {
  monitor.received.length = 0;
  monitor.leaks.length = 0;
  // The server refuses the password: the run fails after it started.
  const run = await backup(`${monitor.url}/ping/${TOKEN}`, `${PASSWORD}-wrong`);
  expect(run.exitCode).not.toBe(0);
  expect(monitor.received.map((r) => `${r.method} ${r.path}`)).toEqual([
    `POST /ping/${TOKEN}/start`,
    `POST /ping/${TOKEN}/fail`,
  ]);
  const body = monitor.received[1]?.raw ?? '';
  expect(body).toMatch(/^Backup failed: shop in phase \w+: .*password/i);
  expect(Buffer.byteLength(body)).toBeLessThanOrEqual(10_000);
  for (const r of monitor.received) expect(`${r.path} ${r.raw}`).not.toContain(PASSWORD);
  expect(monitor.leaks).toEqual([]);
}, 120_000);

test('a bad heartbeat-url is refused before any work, naming the input', async () => {
  const run = await backup('ftp://monitor.example/abc');
  expect(run.exitCode).not.toBe(0);
  expect(run.stdout).toMatch(/::error::Input 'heartbeat-url': scheme 'ftp'/);
  expect(run.outputs['backup-key']).toBeUndefined();
}, 60_000);

test('a monitor that is down: the backup succeeds, with a warning per ping', async () => {
  const port = await freePort();
  const run = await backup(`http://127.0.0.1:${port}/ping/${TOKEN}`);
  expect(run.exitCode).toBe(0);
  const pings = warnings(run).filter((w) => w.includes('Heartbeat to'));
  expect(pings).toHaveLength(2);
  expect(pings[0]).toMatch(/Heartbeat to 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED.*the start ping was not delivered/);
  expect(pings[1]).toMatch(/the success ping was not delivered/);
  expect(run.stdout).not.toContain(TOKEN);
}, 120_000);

test('a monitor that never answers: the backup succeeds; each ping gives up after 2 attempts of 5 s', async () => {
  const hanging = await startWebhookReceiver({ status: 200, hang: true });
  try {
    const run = await backup(`${hanging.url}/ping/${TOKEN}`);
    expect(run.exitCode).toBe(0);
    const pings = warnings(run).filter((w) => w.includes('Heartbeat to'));
    expect(pings).toHaveLength(2);
    for (const w of pings) expect(w).toMatch(/failed: no answer within 5 s;/);
    // Two attempts per ping, two pings: at most 4 × 5 s of waiting in all.
    expect(hanging.received.map((r) => r.path)).toEqual([
      `/ping/${TOKEN}/start`,
      `/ping/${TOKEN}/start`,
      `/ping/${TOKEN}`,
      `/ping/${TOKEN}`,
    ]);
  } finally {
    await hanging.stop();
  }
}, 120_000);
