import { ConfigError } from '../../src/errors.js';
import { heartbeatSecrets, parseHeartbeatInputs } from '../../src/config/heartbeat.js';
import { parseConfig } from '../../src/config/parse.js';
import { secretForms } from '../../src/redact.js';
import {
  heartbeatBody,
  heartbeatRequest,
  heartbeatText,
  MAX_BODY_BYTES,
  type HeartbeatConfig,
  type HeartbeatEvent,
} from '../../src/report/heartbeat.js';

const reader =
  (values: Record<string, string>) =>
  (name: string): string =>
    values[name] ?? '';

const config = (url: string, states = 'start,success,fail'): HeartbeatConfig =>
  parseHeartbeatInputs(reader({ 'heartbeat-url': url, 'heartbeat-states': states })) as HeartbeatConfig;

describe('heartbeatRequest', () => {
  const HC = 'https://hc-ping.com/0f3a1d52-8c7e-4b7a-9a47-3a2f1b6c9d10';
  test.each<[string, string, string, HeartbeatEvent, { url: string; method: string } | undefined]>([
    ['Healthchecks.io start', HC, '', 'start', { url: `${HC}/start`, method: 'POST' }],
    ['Healthchecks.io success', HC, '', 'success', { url: HC, method: 'POST' }],
    ['Healthchecks.io fail', HC, '', 'fail', { url: `${HC}/fail`, method: 'POST' }],
    ['trailing slash', `${HC}/`, '', 'fail', { url: `${HC}/fail`, method: 'POST' }],
    [
      'self-hosted with a query',
      'http://hc.local:8000/ping/abc12345?rid=1',
      '',
      'start',
      { url: 'http://hc.local:8000/ping/abc12345/start?rid=1', method: 'POST' },
    ],
    [
      'Cronitor',
      'https://cronitor.link/p/KEY123456/backup?state={status}',
      'run,complete,fail',
      'success',
      { url: 'https://cronitor.link/p/KEY123456/backup?state=complete', method: 'GET' },
    ],
    [
      'Uptime Kuma down',
      'https://kuma.example.com/api/push/Ab12Cd34Ef?status={status}&msg=backup',
      '-,up,down',
      'fail',
      { url: 'https://kuma.example.com/api/push/Ab12Cd34Ef?status=down&msg=backup', method: 'GET' },
    ],
    [
      'Uptime Kuma start skipped',
      'https://kuma.example.com/api/push/Ab12Cd34Ef?status={status}',
      '-,up,down',
      'start',
      undefined,
    ],
    [
      'Better Stack success',
      'https://uptime.betterstack.com/api/v1/heartbeat/TOKEN123abc/{status}',
      '-,,fail',
      'success',
      { url: 'https://uptime.betterstack.com/api/v1/heartbeat/TOKEN123abc', method: 'POST' },
    ],
    [
      'Better Stack fail',
      'https://uptime.betterstack.com/api/v1/heartbeat/TOKEN123abc/{status}',
      '-,,fail',
      'fail',
      { url: 'https://uptime.betterstack.com/api/v1/heartbeat/TOKEN123abc/fail', method: 'POST' },
    ],
  ])('%s', (_name, url, states, event, expected) => {
    expect(heartbeatRequest(config(url, states), event)).toEqual(expected);
  });
});

describe('parseHeartbeatInputs', () => {
  test('empty URL = no heartbeat; default states', () => {
    expect(parseHeartbeatInputs(reader({}))).toBeUndefined();
    expect(config('https://hc-ping.com/x').states).toEqual({ start: 'start', success: 'success', fail: 'fail' });
  });
  test.each([
    ['ftp://hc-ping.com/abc', /Input 'heartbeat-url': scheme 'ftp'/],
    ['https://hc-ping.com/abc def', /Input 'heartbeat-url': contains whitespace/],
    ['hc-ping.com/abc', /Input 'heartbeat-url': not a valid URL/],
  ])('%s is refused, naming the input and never echoing the URL', (url, message) => {
    const run = (): unknown => parseHeartbeatInputs(reader({ 'heartbeat-url': url }));
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
    try {
      run();
    } catch (error) {
      expect(String(error)).not.toContain('hc-ping.com/abc');
    }
  });
  test.each(['run,complete', 'a,b,c,d', 'up,do wn,x', 'a;b,c,d'])('states %s are refused', (states) => {
    expect(() => parseHeartbeatInputs(reader({ 'heartbeat-states': states }))).toThrow(/Input 'heartbeat-states'/);
  });
  test('parseConfig refuses a bad heartbeat-url before any work', () => {
    expect(() =>
      parseConfig(
        reader({
          command: 'backup',
          'database-url': 'postgres://u@h/db',
          destination: 'file:///tmp/x',
          'heartbeat-url': 'ftp://x/y',
        }),
      ),
    ).toThrow(/Input 'heartbeat-url'/);
  });
});

describe('heartbeatSecrets', () => {
  test('masks the URL, its token path segments and query values, not words such as heartbeat', () => {
    const secrets = heartbeatSecrets(
      reader({ 'heartbeat-url': 'https://uptime.betterstack.com/api/v1/heartbeat/TOKEN123abc?key=sk_live_9xYz' }),
    );
    expect(secrets).toEqual(expect.arrayContaining(['TOKEN123abc', 'sk_live_9xYz', '/api/v1/heartbeat/TOKEN123abc']));
    expect(secrets).not.toContain('heartbeat');
    expect(secrets).not.toContain('api');
    expect(heartbeatSecrets(reader({}))).toEqual([]);
  });
});

describe('heartbeatText and heartbeatBody', () => {
  test('one paragraph per event', () => {
    expect(heartbeatText({ event: 'start', command: 'backup', database: 'shop' })).toBe('Backup started: shop.');
    expect(heartbeatText({ event: 'success', command: 'drill', database: 'shop', backupKey: 'k.dump' })).toBe(
      'Drill succeeded: shop, backup k.dump.',
    );
    expect(heartbeatText({ event: 'fail', command: 'check', database: '', phase: 'config', error: 'bad' })).toBe(
      'Check failed: (unknown database) in phase config: bad',
    );
  });
  test('redacts every form of a secret and keeps to one line', () => {
    const secret = 's3cr3t-p@ss/word';
    const text = `connect failed\nfor ${secret}, ${encodeURIComponent(secret)}, ${Buffer.from(`x${secret}`).toString('base64')}`;
    const body = heartbeatBody(text, [secret]);
    expect(body).not.toContain('\n');
    for (const form of secretForms(secret)) expect(body).not.toContain(form);
    expect(body).toContain('***');
  });
  test(`caps at ${MAX_BODY_BYTES} bytes, never inside a character`, () => {
    const body = heartbeatBody('é'.repeat(20_000), []);
    expect(Buffer.byteLength(body, 'utf8')).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(body.endsWith('…')).toBe(true);
    expect(body).not.toContain('\uFFFD');
    expect(heartbeatBody('short', [])).toBe('short');
  });
});
