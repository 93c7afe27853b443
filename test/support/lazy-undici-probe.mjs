// Run by test/unit/start-up.test.ts in a Node process of its own. Bundles @actions/http-client as
// scripts/build.mjs bundles the action (ESM, node platform, its banner), with or without lazyUndici
// (argv[2]: "lazy" or "eager"), marks undici's entry so its evaluation is counted, imports the bundle,
// then asks it for a proxy dispatcher. Prints what it saw as JSON.
import { build } from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REQUIRE_BANNER, lazyUndici } from '../../scripts/start-up.mjs';

const counted = {
  name: 'count-undici',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]undici[\\/]index\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      return {
        contents: `globalThis.undiciEvaluated = (globalThis.undiciEvaluated ?? 0) + 1;\n${await readFile(args.path, 'utf8')}`,
        loader: 'js',
      };
    });
  },
};

const dir = mkdtempSync(join(tmpdir(), 'lazy-undici-'));
try {
  const entry = join(dir, 'entry.mjs');
  writeFileSync(entry, "export { HttpClient } from '@actions/http-client';\n");
  await build({
    entryPoints: [entry],
    outfile: join(dir, 'out.mjs'),
    nodePaths: [join(process.cwd(), 'node_modules')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
    plugins: process.argv[2] === 'lazy' ? [lazyUndici, counted] : [counted],
    banner: { js: REQUIRE_BANNER },
  });
  const { HttpClient } = await import(pathToFileURL(join(dir, 'out.mjs')).href);
  const atImport = globalThis.undiciEvaluated ?? 0;
  process.env.https_proxy = 'http://127.0.0.1:9';
  const dispatcher = new HttpClient('probe').getAgentDispatcher('https://example.com/');
  console.log(
    JSON.stringify({
      atImport,
      afterProxy: globalThis.undiciEvaluated ?? 0,
      dispatcher: dispatcher?.constructor?.name,
      dispatches: typeof dispatcher?.dispatch,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
