/**
 * The command line, generated from action.yml: one sub-command per value of the `command` input
 * (its description from that input's text), and per sub-command one `--<input>` flag for every
 * input that command reads (config/applicability.ts), with action.yml's description and default.
 * Parsing is commander's; this module only declares the flags and collects what was given.
 */
import { Command as Program, CommanderError, Option } from 'commander';
import { ACTION_INPUTS, inputSpecs, type InputSpec } from '../config/action-inputs.js';
import { INPUT_COMMANDS } from '../config/applicability.js';
import { COMMANDS, type Command } from '../config/types.js';

/** The program's name, as package.json's `bin` installs it. */
export const CLI_NAME = 'postgres-backup';

/** Inputs whose value may also come from a file (`--<input>-file`) or standard input (`--<input>-stdin`). */
export const SECRET_INPUTS: readonly string[] = [
  'database-url',
  'password',
  'target-database-url',
  'target-password',
  's3-secret-access-key',
  'encryption-passphrase',
  'decryption-private-key',
  'decryption-private-key-passphrase',
  'decryption-passphrase',
  'github-token',
  'webhook-url',
];

/** Long values people keep in files: `--<input>-file` only. */
const FILE_INPUTS: readonly string[] = ['encryption-public-key', 'drill-sql'];

/** What one command line asks for (the values exactly as typed; nothing is read yet). */
export interface CommandLine {
  command: Command;
  /** Flag values by input name; several values of a one-per-line input are joined with newlines. */
  flags: Record<string, string>;
  /** `--<input>-file` paths by input name. */
  files: Record<string, string>;
  /** The input named by `--<input>-stdin`, when given. */
  stdin?: string;
  json: boolean;
  yes: boolean;
  verbose: boolean;
  color: boolean | undefined;
}

/** A usage error: exit code 2, before any connection. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** commander already printed the message and the usage line. */
    readonly printed: boolean,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Where commander writes help (stdout) and errors (stderr). */
export interface ProgramOutput {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/**
 * Parses `argv` (without node and the script) into a {@link CommandLine}, or undefined when it
 * only asked for help or the version (already printed).
 * @throws UsageError for an unknown command or flag (with the closest valid name), a flag without
 *   its value, a missing command, or two sources for one input.
 */
export function parseCommandLine(
  argv: readonly string[],
  out: ProgramOutput,
  version: string,
): CommandLine | undefined {
  let parsed: CommandLine | undefined;
  const output = { writeOut: (text: string) => out.writeOut(text), writeErr: (text: string) => out.writeErr(text) };
  const program = new Program(CLI_NAME)
    .description(
      'Back up PostgreSQL to S3-compatible storage or a folder, restore, drill, list, prune and check backups: the engine of postgres-backup-action, from a terminal.',
    )
    .usage('<command> [--<input> <value> …]')
    .version(version, '-V, --version')
    .showSuggestionAfterError(true)
    .showHelpAfterError(`usage: ${CLI_NAME} <command> [--<input> <value> …]  (${CLI_NAME} --help)`)
    .configureOutput(output)
    .exitOverride()
    .addHelpText('after', GLOBAL_HELP);
  for (const command of COMMANDS) {
    program.addCommand(
      commandProgram(command, output, (line) => {
        parsed = line;
      }),
    );
  }
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      throw new UsageError('a command is required', true);
    }
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return undefined;
      throw new UsageError(error.message, true);
    }
    throw error;
  }
  return parsed;
}

/** The help text after the commands: environment, exit codes. */
const GLOBAL_HELP = `
Every action.yml input is a flag of the same name, meaning and default: ${CLI_NAME} <command> --help lists them.
Environment: flags win; then POSTGRES_BACKUP_<INPUT> (e.g. POSTGRES_BACKUP_DECRYPTION_PASSPHRASE);
then DATABASE_URL, or PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE for the source
connection; AWS_REGION and AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for S3, and the AWS SDK's own
chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, …) for its credentials.
Exit codes: 0 done, 1 failed, 2 bad usage (nothing was started).`;

/** One sub-command with its flags. */
function commandProgram(command: Command, output: ProgramOutput, done: (line: CommandLine) => void): Program {
  const sub = new Program(command)
    .description(COMMAND_DESCRIPTIONS[command])
    .usage('[--<input> <value> …]')
    .showSuggestionAfterError(true)
    .showHelpAfterError(`usage: ${CLI_NAME} ${command} [--<input> <value> …]  (${CLI_NAME} ${command} --help)`)
    .configureOutput(output)
    .exitOverride()
    .allowExcessArguments(false);
  const inputs = inputSpecs(Object.keys(ACTION_INPUTS)).filter(
    (spec) => spec.name !== 'command' && (INPUT_COMMANDS[spec.name]?.includes(command) ?? true),
  );
  for (const spec of inputs) addInputOptions(sub, spec);
  sub
    .option('--json', "print the command's outputs (action.yml's outputs) as one JSON object on stdout")
    .option('-y, --yes', 'restore/drill: use a target that already has tables without asking')
    .option('--verbose', 'also print debug lines')
    .option('--no-color', 'no colours (default: colours on a terminal, unless NO_COLOR is set)')
    .action((options: Record<string, unknown>) => done(commandLine(command, inputs, options)));
  return sub;
}

/** The flags of one input: `--<name>`, and for booleans `--no-<name>`; `-file`/`-stdin` variants. */
function addInputOptions(sub: Program, spec: InputSpec): void {
  const boolean = spec.default === 'true' || spec.default === 'false';
  const fallback = spec.default.includes('${{') ? '' : spec.default;
  const description = `${oneLine(spec.description)}${fallback === '' ? '' : ` (default: ${fallback})`}`;
  const option = new Option(boolean ? `--${spec.name} [true|false]` : `--${spec.name} <value>`, description);
  // An input named no-… (no-owner) is a flag of its own, not commander's negation of `owner`.
  if (spec.name.startsWith('no-')) option.negate = false;
  if (boolean) option.argParser(parseBooleanFlag(spec.name));
  else if (isList(spec))
    option.argParser((value: string, previous?: string) => (previous ? `${previous}\n${value}` : value));
  sub.addOption(option);
  if (boolean && !spec.name.startsWith('no-'))
    sub.addOption(new Option(`--no-${spec.name}`, `set ${spec.name} to false`).hideHelp());
  if (SECRET_INPUTS.includes(spec.name) || FILE_INPUTS.includes(spec.name))
    sub.addOption(new Option(`--${spec.name}-file <path>`, `read ${spec.name} from a file`));
  if (SECRET_INPUTS.includes(spec.name))
    sub.addOption(
      new Option(`--${spec.name}-stdin`, `read ${spec.name} from standard input (keeps it out of shell history)`),
    );
}

/** `--x` alone is true; `--x true|false` (or yes/no, on/off…) as action.yml's YAML booleans. */
function parseBooleanFlag(name: string): (value: string) => string {
  return (value) => {
    const v = value.trim().toLowerCase();
    if (['true', 'yes', 'on'].includes(v)) return 'true';
    if (['false', 'no', 'off'].includes(v)) return 'false';
    throw new CommanderError(2, 'commander.invalidArgument', `error: --${name} takes true or false, not '${value}'`);
  };
}

/** Inputs that take one entry per line: a repeated flag adds a line. */
function isList(spec: InputSpec): boolean {
  return /one (query )?per line|comma or newline separated/.test(spec.description);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** What commander parsed, as a {@link CommandLine}. */
function commandLine(command: Command, inputs: InputSpec[], options: Record<string, unknown>): CommandLine {
  const flags: Record<string, string> = {};
  const files: Record<string, string> = {};
  const stdin: string[] = [];
  for (const spec of inputs) {
    const key = camel(spec.name);
    const value = options[key];
    if (value === true) flags[spec.name] = 'true';
    else if (value === false) flags[spec.name] = 'false';
    else if (typeof value === 'string') flags[spec.name] = value;
    const file = options[`${key}File`];
    if (typeof file === 'string') files[spec.name] = file;
    if (options[`${key}Stdin`] === true) stdin.push(spec.name);
    const sources = [spec.name in flags, spec.name in files, stdin.includes(spec.name)].filter(Boolean).length;
    if (sources > 1)
      throw new UsageError(
        `error: give --${spec.name} once: as a value, a file (-file) or standard input (-stdin)`,
        false,
      );
  }
  if (stdin.length > 1)
    throw new UsageError(
      `error: only one flag can read standard input (${stdin.map((n) => `--${n}-stdin`).join(', ')})`,
      false,
    );
  return {
    command,
    flags,
    files,
    ...(stdin[0] === undefined ? {} : { stdin: stdin[0] }),
    json: options['json'] === true,
    yes: options['yes'] === true,
    verbose: options['verbose'] === true,
    color: options['color'] === false ? false : undefined,
  };
}

/** commander's attribute name of a flag: `database-url` → `databaseUrl`. */
function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Each command's one-line description, from the `command` input's description in action.yml
 * (`` `backup` (stream a pg_dump …) ``).
 */
const COMMAND_DESCRIPTIONS: Readonly<Record<Command, string>> = Object.fromEntries(
  COMMANDS.map((command) => {
    const text = oneLine(ACTION_INPUTS['command']?.description ?? '');
    const match = new RegExp(`\`${command}\` \\(((?:[^()]|\\([^()]*\\))*)\\)`).exec(text);
    return [command, match?.[1] ?? command];
  }),
) as Record<Command, string>;
