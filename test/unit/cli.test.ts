/**
 * The CLI's pure parts: the command line generated from action.yml, the inputs it resolves with
 * the environment, the flag names in errors, and what it prints.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INPUT_DEFAULTS } from '../../src/config/action-inputs.js';
import { INPUT_COMMANDS } from '../../src/config/applicability.js';
import { COMMANDS } from '../../src/config/types.js';
import { cliInputs, InputFileError } from '../../src/cli/inputs.js';
import { asFlags } from '../../src/cli/main.js';
import { parseCommandLine, UsageError, type CommandLine } from '../../src/cli/program.js';
import { humanResult, jsonDocument } from '../../src/cli/render.js';

/** Parses argv, collecting what commander printed. */
function parse(argv: string[]): { line: CommandLine | undefined; out: string; err: string; error?: unknown } {
  let out = '';
  let err = '';
  const output = { writeOut: (t: string) => (out += t), writeErr: (t: string) => (err += t) };
  try {
    return { line: parseCommandLine(argv, output, '1.2.3'), out, err };
  } catch (error) {
    return { line: undefined, out, err, error };
  }
}

describe('parseCommandLine', () => {
  test('every input a command reads is a flag of that command, with its description and default', () => {
    for (const command of COMMANDS) {
      const { out, line } = parse([command, '--help']);
      expect(line).toBeUndefined();
      for (const name of Object.keys(INPUT_DEFAULTS)) {
        if (name === 'command') continue;
        const reads = INPUT_COMMANDS[name]?.includes(command) ?? true;
        expect([name, out.includes(`--${name} `)]).toEqual([name, reads]);
      }
    }
    expect(parse(['backup', '--help']).out).toMatch(/--compression <value>\s+[^\n]*\n?[^]*\(default: auto\)/);
  });

  test('--help lists the commands with their descriptions from action.yml, the environment and the exit codes', () => {
    const { out } = parse(['--help']);
    for (const command of COMMANDS) expect(out).toMatch(new RegExp(`\\n  ${command} \\[options\\]\\s+\\S`));
    expect(out).toContain('restore into a scratch database and verify it against the');
    expect(out).toContain('DATABASE_URL');
    expect(out).toContain('Exit codes: 0 done, 1 failed, 2 bad usage');
  });

  test.each([
    [['bakup'], /unknown command 'bakup'[^]*Did you mean backup\?[^]*usage: postgres-backup <command>/],
    [
      ['backup', '--databse-url', 'x'],
      /unknown option '--databse-url'[^]*--database-url\?[^]*usage: postgres-backup backup/,
    ],
    [['backup', '--database-url'], /option '--database-url <value>' argument missing[^]*usage: postgres-backup backup/],
    [['restore', '--keep-last', '3'], /unknown option '--keep-last'/],
    [['backup', '--globals', 'maybe'], /--globals takes true or false, not 'maybe'/],
    [['backup', 'extra'], /too many arguments/],
    [[], /Usage: postgres-backup <command>/],
  ])('%j is a usage error naming the closest valid name', (argv, printed) => {
    const { error, err } = parse(argv);
    expect(error).toBeInstanceOf(UsageError);
    expect(err).toMatch(printed);
  });

  test('values, repeated one-per-line flags, booleans, file and stdin variants, CLI switches', () => {
    const { line } = parse([
      'backup',
      '--database-url=postgres://h/db',
      '--destination',
      'file:///a',
      '--destination',
      's3://b/p',
      '--prune',
      'true',
      '--no-globals',
      '--schema-only',
      '--row-counts',
      'exact',
      '--password-stdin',
      '--json',
      '--no-color',
    ]);
    expect(line).toEqual({
      command: 'backup',
      flags: {
        'database-url': 'postgres://h/db',
        destination: 'file:///a\ns3://b/p',
        prune: 'true',
        globals: 'false',
        'schema-only': 'true',
        'row-counts': 'exact',
      },
      files: {},
      stdin: 'password',
      json: true,
      yes: false,
      verbose: false,
      color: false,
    });
    expect(parse(['restore', '--decryption-private-key-file', 'k.asc', '--yes']).line).toMatchObject({
      files: { 'decryption-private-key': 'k.asc' },
      yes: true,
    });
  });

  test('every flag of every command reaches its input under the same name', () => {
    for (const command of COMMANDS) {
      for (const [name, fallback] of Object.entries(INPUT_DEFAULTS)) {
        if (name === 'command' || !(INPUT_COMMANDS[name]?.includes(command) ?? true)) continue;
        const boolean = fallback === 'true' || fallback === 'false';
        const argv = boolean ? [command, `--${name}`] : [command, `--${name}`, 'v1'];
        expect([command, name, parse(argv).line?.flags]).toEqual([command, name, { [name]: boolean ? 'true' : 'v1' }]);
      }
    }
  });

  test('inputs named no-… are flags of their own: --no-owner sets no-owner, not a negated owner', () => {
    expect(parse(['restore', '--no-owner', '--no-privileges', 'false']).line?.flags).toEqual({
      'no-owner': 'true',
      'no-privileges': 'false',
    });
    expect(parse(['restore']).line?.flags).toEqual({});
  });

  test('one input from two sources, or two flags reading stdin, is refused', () => {
    expect(parse(['backup', '--password', 'x', '--password-stdin']).error).toBeInstanceOf(UsageError);
    expect(parse(['restore', '--password-stdin', '--target-password-stdin']).error).toBeInstanceOf(UsageError);
  });
});

describe('cliInputs', () => {
  const line = (flags: Record<string, string>, rest: Partial<CommandLine> = {}): CommandLine => ({
    command: 'backup',
    flags,
    files: {},
    json: false,
    yes: false,
    verbose: false,
    color: undefined,
    ...rest,
  });
  const noStdin = (): Promise<string> => Promise.reject(new Error('stdin was not asked for'));

  test('flags win over POSTGRES_BACKUP_*, which wins over DATABASE_URL and AWS_*', async () => {
    const { read, sources } = await cliInputs(
      line({ destination: 'file:///x' }),
      {
        POSTGRES_BACKUP_DESTINATION: 'file:///y',
        POSTGRES_BACKUP_LABEL: 'nightly',
        DATABASE_URL: 'postgres://u:p@h/db',
        PGHOST: 'ignored',
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL: 'http://minio:9000',
      },
      noStdin,
    );
    expect(read('command')).toBe('backup');
    expect(read('destination')).toBe('file:///x');
    expect(read('label')).toBe('nightly');
    expect(read('database-url')).toBe('postgres://u:p@h/db');
    expect(read('host')).toBe('');
    expect(read('s3-region')).toBe('eu-west-1');
    expect(read('s3-endpoint')).toBe('http://minio:9000');
    expect(read('keep-last')).toBe('');
    expect(sources.get('database-url')).toEqual({ from: 'environment', name: 'DATABASE_URL' });
  });

  test('PG* fill the separate connection inputs the flags left out; DATABASE_URL then stays unused', async () => {
    const { read } = await cliInputs(
      line({ database: 'shop' }),
      { DATABASE_URL: 'postgres://other/db', PGHOST: 'db.internal', PGUSER: 'backup', PGPASSWORD: 'pw' },
      noStdin,
    );
    expect([read('database-url'), read('host'), read('username'), read('password'), read('database')]).toEqual([
      '',
      'db.internal',
      'backup',
      'pw',
      'shop',
    ]);
    // PGPASSWORD alone names no server: nothing is filled.
    const alone = await cliInputs(line({}, { command: 'list' }), { PGPASSWORD: 'pw' }, noStdin);
    expect(alone.read('password')).toBe('');
  });

  test('-file and -stdin values lose one trailing newline; an unreadable file is an InputFileError', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-inputs-'));
    writeFileSync(path.join(dir, 'key.asc'), 'KEY\nLINES\n');
    const { read, sources } = await cliInputs(
      line({}, { files: { 'decryption-private-key': path.join(dir, 'key.asc') }, stdin: 'password' }),
      {},
      () => Promise.resolve('s3cret\n'),
    );
    expect(read('decryption-private-key')).toBe('KEY\nLINES');
    expect(read('password')).toBe('s3cret');
    expect(sources.get('password')).toEqual({ from: 'stdin', name: '--password-stdin' });
    await expect(
      cliInputs(line({}, { files: { 'drill-sql': path.join(dir, 'missing.sql') } }), {}, noStdin),
    ).rejects.toThrow(InputFileError);
  });

  test('without --github-token no failure issue is attempted', async () => {
    expect((await cliInputs(line({}), {}, noStdin)).read('issue-on-failure')).toBe('false');
    expect((await cliInputs(line({ 'github-token': 't' }), {}, noStdin)).read('issue-on-failure')).toBe('');
  });
});

describe('asFlags', () => {
  const sources = new Map([['port', { from: 'environment' as const, name: 'PGPORT' }]]);
  test.each([
    ["Input 'database': required for command list.", '--database: required for command list.'],
    ["Input 'port': 'x' is not a port.", "PGPORT (--port): 'x' is not a port."],
    [
      'set confirm: shop2 (with clean: true to drop), or use create-database: true.',
      'set --confirm shop2 (with --clean to drop), or use --create-database.',
    ],
    [
      "Input 'target-database-url': it is set together with 'target-password'; use either target-database-url or the separate target-* inputs.",
      '--target-database-url: it is set together with --target-password; use either --target-database-url or the separate target-* inputs.',
    ],
    ['pg_dump: error: connection failed: FATAL', 'pg_dump: error: connection failed: FATAL'],
    ["Input 'no-such': x", "Input 'no-such': x"],
  ])('%s', (message, expected) => {
    expect(asFlags(message, { sources })).toBe(expected);
  });
});

describe('render', () => {
  const backups = JSON.stringify([
    {
      destination: 'file:///b',
      key: 'shop/2026-12-07T063637Z-demo.dump.zst',
      manifestKey: 'shop/2026-12-07T063637Z-demo.dump.zst.manifest.json',
      time: '2026-12-07T06:36:37.000Z',
      label: 'demo',
      sizeBytes: 454145,
      complete: true,
      retention: { action: 'keep', reasons: ['newest complete'] },
    },
    {
      destination: 'file:///b',
      key: 'shop/2026-12-07T070000Z.dump.zst',
      manifestKey: 'shop/2026-12-07T070000Z.dump.zst.manifest.json',
      time: '2026-12-07T07:00:00.000Z',
      label: null,
      sizeBytes: 1000,
      complete: false,
    },
  ]);

  test('list is an aligned table, one row per backup', () => {
    const lines = humanResult('list', { backups, 'temporary-files': '[]' }).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^TIME \(UTC\)\s+LABEL\s+SIZE\s+COMPLETE\s+RETENTION\s+DESTINATION\s+KEY$/);
    expect(lines[1]).toMatch(/^2026-12-07 06:36:37\s+demo\s+454\.1 kB\s+yes\s+keep \(newest complete\)/);
    expect(lines[2]).toMatch(/^2026-12-07 07:00:00\s+1\.0 kB\s+no \(no manifest\)/);
    const keyColumn = lines[0]?.indexOf('KEY');
    expect(lines.slice(1).map((l) => l.indexOf('shop/'))).toEqual([keyColumn, keyColumn]);
    expect(humanResult('list', { backups: '[]' })).toBe('No backups.\n');
  });

  test('other commands print their outputs as aligned name-value lines', () => {
    expect(humanResult('restore', { 'restored-key': 'db/k.dump', 'restore-seconds': '1.5', empty: '' })).toBe(
      'restored-key     db/k.dump\nrestore-seconds  1.5\n',
    );
  });

  test('--json holds every output; JSON-valued outputs are embedded, the rest are the same strings', () => {
    const document = JSON.parse(jsonDocument({ backups, 'temporary-files': '[]', 'kept-count': '1' })) as Record<
      string,
      unknown
    >;
    expect(document).toEqual({ backups: JSON.parse(backups) as unknown, 'temporary-files': [], 'kept-count': '1' });
  });
});
