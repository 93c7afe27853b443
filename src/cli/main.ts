/**
 * `postgres-backup`: the command-line adapter to the command runner (run.ts), the same engine as
 * the action. Reads flags instead of inputs, asks a person what only a person can answer (a key's
 * passphrase, whether to restore over tables), prints the result on stdout and returns the exit
 * code: 0 done, 1 failed, 2 bad usage (nothing was started).
 */
import { INPUT_DEFAULTS } from '../config/action-inputs.js';
import type { InputReader } from '../config/reader.js';
import { run } from '../run.js';
import { VERSION } from '../version.js';
import { cliInputs, InputFileError, type CliInputs } from './inputs.js';
import { parseCommandLine, UsageError, CLI_NAME, type CommandLine } from './program.js';
import { humanResult, jsonDocument } from './render.js';
import { terminal } from './terminal.js';

/** The process the CLI runs in: its streams and environment (process's; others in tests). */
export interface CliProcess {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/** Exit codes, as `--help` documents them. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Runs one command line; returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], proc: CliProcess): Promise<number> {
  const usage = `usage: ${CLI_NAME} <command> [--<input> <value> …]  (${CLI_NAME} --help)`;
  let line: CommandLine | undefined;
  let inputs: CliInputs;
  try {
    line = parseCommandLine(
      argv,
      { writeOut: (t) => proc.stdout.write(t), writeErr: (t) => proc.stderr.write(t) },
      VERSION,
    );
    if (!line) return EXIT.ok;
    inputs = await cliInputs(line, proc.env, () => readAll(proc.stdin));
  } catch (error) {
    if (error instanceof UsageError && error.printed) return EXIT.usage;
    if (error instanceof UsageError || error instanceof InputFileError) {
      proc.stderr.write(`${error.message}\n${usage}\n`);
      return EXIT.usage;
    }
    throw error;
  }
  const interactive = proc.stdin.isTTY === true && proc.stderr.isTTY === true;
  const color = line.color !== false && proc.stderr.isTTY === true && !proc.env['NO_COLOR'];
  const term = terminal({ stderr: proc.stderr, interactive, yes: line.yes, verbose: line.verbose, color, ask });
  const read = interactive ? await withPassphrasePrompt(line, inputs.read) : inputs.read;
  await run(read, term.host);
  const failure = term.failure();
  // --json always prints one document (`{}` when a run failed before any output), for scripts.
  if (line.json) proc.stdout.write(jsonDocument(term.outputs));
  else if (Object.keys(term.outputs).length > 0 || !failure) proc.stdout.write(humanResult(line.command, term.outputs));
  if (!failure) return EXIT.ok;
  const message = asFlags(failure.message, inputs);
  proc.stderr.write(`${color ? '\x1b[31merror:\x1b[0m' : 'error:'} ${message} [${failure.phase}]\n`);
  return failure.phase === 'config' ? EXIT.usage : EXIT.failed;
}

/**
 * The action's input names in an error, as the CLI's flags: `Input 'port': …` becomes `--port: …`
 * (or `PGPORT (--port): …` when the value came from the environment), and `set confirm: shop`,
 * `clean: true` become `--confirm shop`, `--clean`, and hyphenated input names alone (`'target-password'`,
 * `target-database-url`) become flags. Only names action.yml declares are changed.
 */
export function asFlags(message: string, inputs: Pick<CliInputs, 'sources'>): string {
  return message
    .replace(/\bInput '([a-z0-9-]+)'/g, (whole, name: string) => {
      if (!(name in INPUT_DEFAULTS)) return whole;
      const source = inputs.sources.get(name);
      return source && source.from !== 'flag' ? `${source.name} (--${name})` : `--${name}`;
    })
    .replace(/(?<![\w'-])([a-z][a-z0-9-]*): ([^\s,;)]*[^\s,;).])/g, (whole, name: string, value: string) => {
      if (!(name in INPUT_DEFAULTS) || name === 'command') return whole;
      return value === 'true' ? `--${name}` : `--${name} ${value}`;
    })
    .replace(
      /'([a-z][a-z0-9]*-[a-z0-9-]+)'|(?<![\w-])((?:target|s3|keep|decryption|encryption)-[a-z0-9-]+)\b(?! \()/g,
      (whole, quoted?: string, bare?: string) => {
        const name = quoted ?? bare ?? '';
        return name in INPUT_DEFAULTS ? `--${name}` : whole;
      },
    );
}

/**
 * On a TTY, a restore or drill with a protected private key and no passphrase asks for it (hidden),
 * rather than failing after the download has started.
 */
async function withPassphrasePrompt(line: CommandLine, read: InputReader): Promise<InputReader> {
  if (line.command !== 'restore' && line.command !== 'drill') return read;
  const armoredKey = read('decryption-private-key');
  if (armoredKey === '' || read('decryption-private-key-passphrase') !== '') return read;
  const { readPrivateKey } = await import('openpgp');
  const key = await readPrivateKey({ armoredKey }).catch(() => undefined);
  // A key that does not parse is left to the runner, whose error names the input.
  if (!key || key.isDecrypted()) return read;
  const { default: password } = await import('@inquirer/password');
  const passphrase = await password(
    { message: `Passphrase of the private key ${key.getKeyID().toHex()}:`, mask: true },
    { output: process.stderr },
  );
  return (name) => (name === 'decryption-private-key-passphrase' ? passphrase : read(name));
}

/** Asks a yes/no question on stderr (default no). */
async function ask(question: string): Promise<boolean> {
  const { default: confirm } = await import('@inquirer/confirm');
  return confirm({ message: question, default: false }, { output: process.stderr });
}

/** All of standard input, as UTF-8 text. */
async function readAll(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}
