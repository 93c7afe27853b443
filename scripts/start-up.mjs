// esbuild plugins for scripts/build.mjs that keep code no run needs out of the bundle's start-up,
// and the banner they rely on.
import { dirname } from 'node:path';

/**
 * The bundle's first line: CommonJS dependencies call require() for Node built-ins, and an ESM
 * bundle has no require. Both plugins below go through it.
 */
export const REQUIRE_BANNER =
  "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

const IMPORTER = /[\\/]@actions[\\/]http-client[\\/]/;

/**
 * @actions/http-client (which @actions/core imports, for OIDC tokens) imports undici's ProxyAgent
 * at the top of its module, for fetch through a proxy, so every run of the bundle evaluated all of
 * undici at start-up (~20 ms of a ~100 ms start, and memory), though no command uses it. That one
 * import is answered by a class that requires undici, a lazily evaluated CommonJS module inside the
 * bundle, when a ProxyAgent is first made.
 * @type {import('esbuild').Plugin}
 */
export const lazyUndici = {
  name: 'lazy-undici',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) =>
      args.kind === 'import-statement' && IMPORTER.test(args.importer)
        ? { path: 'undici', namespace: 'lazy-undici', pluginData: { resolveDir: dirname(args.importer) } }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-undici' }, (args) => ({
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
      contents: [
        // Only ProxyAgent is imported (@actions/http-client 4, lib/index.js); the build fails if another name is.
        'export class ProxyAgent {',
        '  constructor(...args) {',
        '    const { ProxyAgent: Real } = require("undici");',
        '    return new Real(...args);',
        '  }',
        '}',
      ].join('\n'),
    }));
  },
};

/** Node built-ins whose ES module namespace costs far more than the module (see httpByRequire). */
const BY_REQUIRE = /^(node:)?https?$/;

/**
 * An ES import of `node:http` makes Node build the module's ES namespace, which reads every export,
 * lazy ones included (WebSocket, MessageEvent, …): that loads Node's own copy of undici, ~30 ms of
 * start-up on Node 24 (`import 'node:http'` 58 ms against 26 ms for an empty module; `https` 38 ms),
 * where `require('node:http')` does not. ES imports of http and https in the bundle (from
 * @actions/http-client and our own code) are answered by a CommonJS module that requires them
 * through the bundle's `require` (its banner), with the same exports.
 * @type {import('esbuild').Plugin}
 */
export const httpByRequire = {
  name: 'http-by-require',
  setup(build) {
    build.onResolve({ filter: BY_REQUIRE }, (args) =>
      args.kind === 'import-statement'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'http-by-require' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'http-by-require' }, (args) => ({
      loader: 'js',
      contents: `module.exports = require('node:${args.path}');`,
    }));
  },
};
