import { readFileSync } from 'node:fs';
import { INPUT_COMMANDS, inapplicableInputs, inapplicableInputsWarning } from '../../src/config/applicability.js';
import { INPUT_DEFAULTS } from '../../src/config/inputs.js';
import { COMMANDS } from '../../src/config/types.js';

function reader(inputs: Record<string, string>): (name: string) => string {
  // The runner passes every unset input's action.yml default.
  return (name) => inputs[name] ?? (INPUT_DEFAULTS[name]?.includes('${{') ? '' : (INPUT_DEFAULTS[name] ?? ''));
}

describe('inputs that do not apply to the command warn, from one table', () => {
  test('every input in the table is an action input, and every command is one', () => {
    const yml = readFileSync('action.yml', 'utf8');
    for (const [name, commands] of Object.entries(INPUT_COMMANDS)) {
      expect(Object.keys(INPUT_DEFAULTS)).toContain(name);
      expect(yml).toContain(`\n  ${name}:\n`);
      for (const command of commands) expect(COMMANDS).toContain(command);
    }
  });

  test.each<[string, Record<string, string>, string[]]>([
    [
      'backup',
      { confirm: 'shop', 'max-age': '26h', 'target-host': 'db2', 'target-username': 'u' },
      ['target-host', 'target-username', 'confirm', 'max-age'],
    ],
    [
      'restore',
      { 'keep-last': '7', prune: 'false', 'pg-dump-args': '--no-comments', 'drop-after': 'false' },
      ['pg-dump-args', 'keep-last', 'prune', 'drop-after'],
    ],
    ['drill', { clean: 'true', 'expect-label': 'daily' }, ['clean', 'expect-label']],
    ['check', { jobs: '4', 'decryption-passphrase': 'x' }, ['jobs', 'decryption-passphrase']],
    ['prune', { 'keep-last': '3', label: 'daily', 'encryption-passphrase': 'p' }, ['label', 'encryption-passphrase']],
    ['list', { 'keep-daily': '7' }, []],
    ['restore', { 'lock-wait-timeout': '30s', 's3-timeout': '30' }, ['lock-wait-timeout']],
    // Defaults as the runner passes them are not "set".
    ['restore', { format: 'custom', compression: 'zstd', 'row-counts': 'exact', prune: 'auto' }, []],
    // Inputs of every command never warn.
    ['check', { destination: 's3://b/p', 'webhook-url': 'https://x', 's3-region': 'eu-west-1', summary: 'false' }, []],
  ])('%s with %j warns about %j', (command, inputs, expected) => {
    expect(inapplicableInputs(command as never, reader(inputs))).toEqual(expected);
  });

  test('one warning naming each input and the commands it is for', () => {
    expect(inapplicableInputsWarning('backup', reader({ confirm: 'shop', 'max-age': '1d' }))).toBe(
      "Inputs 'confirm' (restore, drill), 'max-age' (check) do not apply to command backup and are ignored. Remove them from this step, or check `command`.",
    );
    expect(inapplicableInputsWarning('restore', reader({ 'keep-last': '7' }))).toBe(
      "Input 'keep-last' (backup, prune, list) does not apply to command restore and is ignored. Remove it from this step, or check `command`.",
    );
    expect(inapplicableInputsWarning('backup', reader({}))).toBeUndefined();
  });
});
