/**
 * scripts/start-up.mjs: what the bundle no longer loads when it starts.
 * - lazyUndici: the npm undici is not evaluated (it was, through @actions/core →
 *   @actions/http-client), and a proxy dispatcher asked of @actions/http-client is still undici's
 *   ProxyAgent. The probe bundles http-client in a process of its own.
 * - httpByRequire: node:http is required, not imported, so Node does not load its own undici to
 *   build http's ES namespace. Seen from the built bundle on Node 24, the runtime action.yml declares.
 */
import { execFileSync, spawnSync } from 'node:child_process';

import { nodeBinaries } from '../support/action-runner.js';

interface Probe {
  /** Times undici's entry module had been evaluated once the bundle was imported. */
  atImport: number;
  /** … and once a proxy dispatcher was made. */
  afterProxy: number;
  dispatcher?: string;
  dispatches: string;
}

function probe(mode: 'lazy' | 'eager'): Probe {
  return JSON.parse(
    execFileSync(process.execPath, ['test/support/lazy-undici-probe.mjs', mode], { encoding: 'utf8' }),
  ) as Probe;
}

test('lazyUndici: with the plugin, importing @actions/http-client does not evaluate undici; the first proxy dispatcher does, once', () => {
  const lazy = probe('lazy');
  expect(lazy).toEqual({
    atImport: 0,
    afterProxy: 1,
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
    dispatcher: expect.stringMatching(/^ProxyAgent/),
    dispatches: 'function',
  });
}, 60_000);

test('lazyUndici: without it (the control), undici is evaluated at import', () => {
  expect(probe('eager')).toEqual({
    atImport: 1,
    afterProxy: 1,
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
    dispatcher: expect.stringMatching(/^ProxyAgent/),
    dispatches: 'function',
  });
}, 60_000);

/** Whether Node loaded its internal undici by the time `args` (run with the probe preloaded) exited. */
function internalUndici(node: string, args: string[], env: Record<string, string> = {}): boolean {
  const run = spawnSync(node, ['--import', './test/support/module-load-probe.mjs', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  const seen = /^internal-undici:(true|false)$/m.exec(run.stderr);
  if (!seen) throw new Error(`no probe line from ${args.join(' ')}: ${run.stderr}`);
  return seen[1] === 'true';
}

// Node 24 is the runtime action.yml declares (runs.using: node24); there an ES import of node:http
// loads Node's undici, on Node 20 it does not. nodeBinaries() fails in CI when Node 24 is missing.
const node24 = nodeBinaries().find((n) => n.name === 'node 24');
const onNode24 = node24 ? test : test.skip;

onNode24("httpByRequire, Node 24: a run of the bundle (refused on its inputs) does not load Node's undici", () => {
  expect(internalUndici(node24!.path, ['dist/index.js'], { INPUT_COMMAND: 'bogus' })).toBe(false);
});

onNode24('httpByRequire, Node 24: the control: an ES import of node:http does', () => {
  expect(internalUndici(node24!.path, ['--input-type=module', '-e', "import 'node:http';"])).toBe(true);
});
