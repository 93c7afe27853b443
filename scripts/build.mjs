// Bundles src/index.ts (the action), src/cli.ts (the postgres-backup command) and src/files-tap.ts (the files tap child, files/tap-child.ts) into dist/ (ESM, Node 20+, shared chunks) and writes dist/licenses.txt: name,
// version, licence and licence text of every npm package the bundle contains. `node scripts/build.mjs --check` builds into a temporary folder and fails
// when the committed dist/ differs (a stale bundle).
import { build } from 'esbuild';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionYml } from './action-inputs.mjs';
import { REQUIRE_BANNER, httpByRequire, lazyUndici } from './start-up.mjs';

const check = process.argv.includes('--check');
const outdir = check ? mkdtempSync(join(tmpdir(), 'dist-check-')) : 'dist';

if (!check) rmSync('dist', { recursive: true, force: true });
const result = await build({
  entryPoints: ['src/index.ts', 'src/cli.ts', 'src/files-tap.ts'],
  outdir,
  // Code only some runs need (OpenPGP.js, @actions/cache with the Azure SDK) goes into chunks that
  // are loaded by dynamic import(): a plain backup starts faster and with less memory.
  splitting: true,
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // Start-up: undici is evaluated when a proxy agent is first made, node:http is required rather
  // than imported; the banner gives the ESM bundle a require (start-up.mjs). action.yml's inputs
  // are read from action.yml itself (action-inputs.mjs).
  plugins: [lazyUndici, httpByRequire, actionYml],
  banner: { js: REQUIRE_BANNER },
});

writeFileSync(join(outdir, 'licenses.txt'), licences(Object.keys(result.metafile.inputs)));

/** One entry per bundled package (found from the metafile's input paths), sorted by name. */
function licences(inputs) {
  const dirs = new Set();
  for (const input of inputs) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) dirs.add(match[1]);
  }
  const entries = [...dirs].map((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text =
      file && existsSync(join(dir, file))
        ? readFileSync(join(dir, file), 'utf8').trim()
        : '(no licence file in the package)';
    return { id: `${pkg.name}@${pkg.version}`, licence: pkg.license ?? 'UNKNOWN', text };
  });
  const unique = [...new Map(entries.map((e) => [e.id, e])).values()].sort((a, b) => a.id.localeCompare(b.id));
  return unique.map((e) => `${e.id}\n${e.licence}\n${e.text}\n`).join('\n' + '-'.repeat(72) + '\n\n');
}

if (check) {
  const names = (dir) =>
    readdirSync(dir, { recursive: true })
      .filter((n) => !statSync(join(dir, n)).isDirectory())
      .map(String)
      .sort();
  const fresh = names(outdir);
  let committed = [];
  try {
    committed = names('dist');
  } catch {
    // no dist/ at all: stale
  }
  const stale =
    fresh.join() !== committed.join() ||
    fresh.some((name) => !readFileSync(join(outdir, name)).equals(readFileSync(join('dist', name))));
  rmSync(outdir, { recursive: true, force: true });
  if (stale) {
    console.error('dist/ is stale: run `npm run build` and commit dist/.');
    process.exit(1);
  }
  console.log('dist/ is current.');
}
