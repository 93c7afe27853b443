/**
 * The files tap's script (src/files-tap.ts) bundled into `dir`, as `npm run build` bundles it into
 * dist/: tests that run the sources hand it to openFilesArchive as `tapScript`.
 */
import path from 'node:path';

import { build } from 'esbuild';

/** Bundles src/files-tap.ts into `<dir>/files-tap.cjs`; returns its path. */
export async function buildTapScript(dir: string): Promise<string> {
  const outfile = path.join(dir, 'files-tap.cjs');
  await build({
    entryPoints: [path.resolve('src/files-tap.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  return outfile;
}
