// Prints the README's inputs and outputs tables from action.yml (`--write` updates README.md
// between the <!-- inputs --> and <!-- /inputs --> markers). A unit test keeps README in step.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

export function tables(actionYml) {
  const action = parse(actionYml);
  const cell = (text) => String(text).replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|');
  const inputs = Object.entries(action.inputs).map(
    ([name, spec]) =>
      `| \`${name}\` | ${spec.default === '' || spec.default === undefined ? '' : `\`${cell(spec.default)}\``} | ${cell(spec.description)} |`,
  );
  const outputs = Object.entries(action.outputs).map(([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`);
  return [
    '| Input | Default | Description |',
    '|---|---|---|',
    ...inputs,
    '',
    '| Output | Description |',
    '|---|---|',
    ...outputs,
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const table = tables(readFileSync('action.yml', 'utf8'));
  if (process.argv.includes('--write')) {
    const readme = readFileSync('README.md', 'utf8');
    const next = readme.replace(
      /<!-- inputs -->[\s\S]*<!-- \/inputs -->/,
      `<!-- inputs -->\n${table}\n<!-- /inputs -->`,
    );
    writeFileSync('README.md', next);
  } else {
    console.log(table);
  }
}
