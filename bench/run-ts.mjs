// Runs a TypeScript file of this repo (e.g. bench/retention.ts) without ts-node: bundles it with
// esbuild into a temporary .mjs under node_modules/.cache (npm packages stay external, so they
// resolve from this repo's node_modules), then imports it.
//
//   node bench/run-ts.mjs bench/retention.ts [args…]
//
// s3rver's listing continuation tokens need OpenSSL's legacy provider: when node was started
// without --openssl-legacy-provider, this script runs itself again with it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const LEGACY = '--openssl-legacy-provider';
const hasLegacy = process.execArgv.includes(LEGACY) || (process.env.NODE_OPTIONS ?? '').includes(LEGACY);
if (!hasLegacy) {
  const child = spawnSync(process.execPath, [LEGACY, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(child.status ?? 1);
}

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node bench/run-ts.mjs <file.ts> [args…]');
  process.exit(2);
}

const { build } = await import('esbuild');
const cacheDir = resolve('node_modules/.cache/run-ts');
mkdirSync(cacheDir, { recursive: true });
const outfile = join(cacheDir, `${basename(entry, '.ts')}-${process.pid}.mjs`);
try {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
    // Same banner as scripts/build.mjs: CommonJS code calls require() for Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  process.argv = [process.argv[0], entry, ...args];
  await import(pathToFileURL(outfile).href);
} finally {
  rmSync(outfile, { force: true });
}
