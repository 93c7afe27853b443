/**
 * Runs the built action (dist/index.js) as a process exactly as the runner does: inputs as
 * INPUT_<NAME> environment variables with action.yml's defaults applied, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files, and returns what it wrote.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './pg-cluster.js';

export interface ActionRun {
  exitCode: number | null;
  /** stdout without the `::add-mask::` commands (the runner consumes those). */
  stdout: string;
  /** Values registered with `::add-mask::`, in order. */
  masks: string[];
  /** Index (in stdout lines) of the first line that is not an add-mask command. */
  firstNonMaskLine: number;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

interface ActionYaml {
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { description: string }>;
}

export function actionYaml(): ActionYaml {
  return parse(readFileSync(path.join(repoRoot(), 'action.yml'), 'utf8')) as ActionYaml;
}

/** Node binaries to run the bundle on: this one (20) and Node 24 when installed (see .ci/run). */
export function nodeBinaries(): { name: string; path: string }[] {
  const node24 =
    process.env.NODE24_BIN ?? path.join(repoRoot(), '.tmp', 'node24', 'node_modules', 'node', 'bin', 'node');
  const list = [{ name: `node ${process.versions.node}`, path: process.execPath }];
  if (existsSync(node24)) list.push({ name: 'node 24', path: node24 });
  else if (process.env.CI) throw new Error(`Node 24 is not installed at ${node24}; .ci/run installs it`);
  return list;
}

/** Parses the GITHUB_OUTPUT file format (`name<<DELIMITER` … `DELIMITER`, or `name=value`). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string);
      outputs[name as string] = value.join('\n');
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return outputs;
}

export async function runAction(options: {
  inputs: Record<string, string>;
  env?: Record<string, string>;
  node?: string;
  timeoutMs?: number;
  /** Called once the process is started (e.g. to send it a signal). */
  onStart?: (pid: number) => void;
  /** Called with all stdout so far each time more arrives (e.g. to act on a log line while the run goes on). */
  onStdout?: (stdoutSoFar: string) => void;
}): Promise<ActionRun> {
  const yml = actionYaml();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'action-run-'));
  const outputFile = path.join(dir, 'output');
  const summaryFile = path.join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: dir,
    GITHUB_ACTIONS: 'true',
    ...options.env,
  };
  for (const [name, spec] of Object.entries(yml.inputs)) {
    // The runner evaluates expression defaults (`${{ github.token }}`); there is no token here.
    const value =
      options.inputs[name] ?? (String(spec.default ?? '').includes('${{') ? '' : String(spec.default ?? ''));
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  for (const name of Object.keys(options.inputs)) {
    if (!(name in yml.inputs)) throw new Error(`test passes input '${name}', which action.yml does not declare`);
  }
  try {
    return await new Promise<ActionRun>((resolve, reject) => {
      const child = spawn(options.node ?? process.execPath, [path.join(repoRoot(), 'dist', 'index.js')], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        options.onStdout?.(stdout);
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
      child.on('error', reject);
      if (child.pid !== undefined) options.onStart?.(child.pid);
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        const lines = stdout.split('\n');
        const masks = lines
          .filter((l) => l.startsWith('::add-mask::'))
          .map((l) => unescapeCommandData(l.slice('::add-mask::'.length)));
        resolve({
          exitCode,
          stdout: lines.filter((l) => !l.startsWith('::add-mask::')).join('\n'),
          masks,
          firstNonMaskLine: lines.findIndex((l) => !l.startsWith('::add-mask::')),
          stderr,
          outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
          summary: readFileSync(summaryFile, 'utf8'),
        });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Undoes @actions/core's escaping of workflow-command data (%25, %0D, %0A), as the runner does. */
function unescapeCommandData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}
