// esbuild plugin for scripts/build.mjs. @actions/http-client (which @actions/core imports, for OIDC
// tokens) imports undici's ProxyAgent at the top of its module, for fetch through a proxy, so every
// run of the bundle evaluated all of undici at start-up (~20 ms of a ~100 ms start, and memory),
// though no command uses it. That one import is answered by a class that requires undici, a
// lazily evaluated CommonJS module inside the bundle, when a ProxyAgent is first made.

const IMPORTER = /[\\/]@actions[\\/]http-client[\\/]/;

/** @type {import('esbuild').Plugin} */
export const lazyUndici = {
  name: 'lazy-undici',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) =>
      args.kind === 'import-statement' && IMPORTER.test(args.importer)
        ? { path: 'undici', namespace: 'lazy-undici', pluginData: { resolveDir: args.importer.replace(/[\\/][^\\/]*$/, '') } }
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
