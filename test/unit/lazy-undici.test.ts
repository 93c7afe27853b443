/**
 * scripts/lazy-undici.mjs: the bundle no longer evaluates undici when it starts (it did through
 * @actions/core → @actions/http-client), and a proxy dispatcher asked of @actions/http-client is
 * still undici's ProxyAgent. The bundle is built by the probe in a process of its own.
 */
import { execFileSync } from 'node:child_process';

interface Probe {
  /** Times undici's entry module had been evaluated once the bundle was imported. */
  atImport: number;
  /** … and once a proxy dispatcher was made. */
  afterProxy: number;
  dispatcher?: string;
  dispatches: string;
}

function probe(mode: 'lazy' | 'eager'): Probe {
  return JSON.parse(execFileSync(process.execPath, ['test/support/lazy-undici-probe.mjs', mode], { encoding: 'utf8' })) as Probe;
}

test('with the plugin, importing @actions/http-client does not evaluate undici; the first proxy dispatcher does, once', () => {
  const lazy = probe('lazy');
  expect(lazy).toEqual({ atImport: 0, afterProxy: 1, dispatcher: expect.stringMatching(/^ProxyAgent/), dispatches: 'function' });
}, 60_000);

test('without it (the control), undici is evaluated at import', () => {
  expect(probe('eager')).toEqual({ atImport: 1, afterProxy: 1, dispatcher: expect.stringMatching(/^ProxyAgent/), dispatches: 'function' });
}, 60_000);
