import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../src/config/parse.js';
import type { BackupConfig, CheckConfig } from '../../src/config/types.js';

const BACKUP = { 'database-url': 'postgres://app:secret@db.example.com:5432/shop', destination: 's3://backups/prod' };
const CHECK = { command: 'check', database: 'shop', destination: 's3://backups/prod' };
const reader =
  (inputs: Record<string, string>) =>
  (name: string): string =>
    inputs[name] ?? '';

describe('anomaly inputs', () => {
  it('default to warn after a backup and fail in check, max-row-drop 0.5', () => {
    expect((parseConfig(reader(BACKUP)) as BackupConfig).anomaly).toEqual({ mode: 'warn', maxRowDrop: 0.5 });
    expect((parseConfig(reader(CHECK)) as CheckConfig).anomaly).toEqual({ mode: 'fail', maxRowDrop: 0.5 });
  });
  it('take the given values', () => {
    const config = parseConfig(reader({ ...BACKUP, anomaly: 'fail', 'max-row-drop': '1' })) as BackupConfig;
    expect(config.anomaly).toEqual({ mode: 'fail', maxRowDrop: 1 });
    const check = parseConfig(reader({ ...CHECK, anomaly: 'warn', 'max-row-drop': '.25' })) as CheckConfig;
    expect(check.anomaly).toEqual({ mode: 'warn', maxRowDrop: 0.25 });
  });
  it.each([
    ['anomaly', 'error', "Input 'anomaly': 'error' is not one of: warn, fail."],
    ['max-row-drop', '0', "Input 'max-row-drop': 0 is out of range"],
    ['max-row-drop', '1.5', "Input 'max-row-drop': 1.5 is out of range"],
    ['max-row-drop', '-0.5', "Input 'max-row-drop': '-0.5' is not a number"],
    ['max-row-drop', '50%', "Input 'max-row-drop': '50%' is not a number"],
  ])('%s: %s is refused naming the input, for every command', (name, value, message) => {
    expect(() => parseConfig(reader({ ...BACKUP, [name]: value }))).toThrow(message);
    expect(() => parseConfig(reader({ ...CHECK, [name]: value }))).toThrow(message);
    expect(() => parseConfig(reader({ ...CHECK, command: 'prune', 'keep-last': '3', [name]: value }))).toThrow(message);
  });
});
