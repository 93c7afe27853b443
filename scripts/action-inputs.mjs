// action.yml's inputs as a JavaScript module, so that TypeScript reads input names, defaults and
// descriptions from action.yml itself instead of a copy: `import inputs from '../../action.yml'`
// gives { [name]: { default, description } } in action.yml's order. Used by the bundle (the
// esbuild plugin below, scripts/build.mjs), by jest (scripts/jest-action-yml.mjs) and typed by
// src/config/action-yml.d.ts.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** The module text for an action.yml text. A default is a string, as the runner passes it ('' when none). */
export function actionInputsModule(yamlText) {
  const inputs = Object.entries(parse(yamlText).inputs ?? {}).map(([name, spec]) => [
    name,
    { default: spec?.default === undefined ? '' : String(spec.default), description: String(spec?.description ?? '') },
  ]);
  return `export default ${JSON.stringify(Object.fromEntries(inputs))};\n`;
}

/** esbuild plugin: loads any `…/action.yml` import as {@link actionInputsModule}. */
export const actionYml = {
  name: 'action-yml',
  setup(build) {
    build.onLoad({ filter: /(^|\/)action\.yml$/ }, (args) => ({
      contents: actionInputsModule(readFileSync(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};
