/**
 * Entry of `dist/files-tap.js`, the files tap child (files/tap-child.ts): tar bytes on stdin,
 * the same bytes on stdout, the listing fingerprint on stderr.
 */
import { runFilesTap } from './files/tap-child.js';

process.exitCode = runFilesTap();
