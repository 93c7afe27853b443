/**
 * Where the files tap's script is: `files-tap.js` beside the bundle this process runs
 * (`dist/index.js` for the action, `dist/cli.js` for `postgres-backup`, symbolic links resolved).
 * Run from the sources (tests), there is none, and the files archive goes through this process.
 */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** The script's absolute path, or undefined when this process does not run a bundle beside it. */
export function bundledTapScript(main: string | undefined = process.argv[1]): string | undefined {
  if (!main || !existsSync(main)) return undefined;
  const script = path.join(path.dirname(realpathSync(main)), 'files-tap.js');
  return existsSync(script) ? script : undefined;
}
