/** The files inputs (config/files.ts) through parseConfig: what a backup gets, and what is refused before any work. */
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/errors.js';
import { asBackup } from '../support/config.js';

const BASE = { 'database-url': 'postgres://app:secret@db.example.com:5432/shop', destination: 's3://backups/prod' };
const READ_ONLY = { destination: 's3://backups/prod', database: 'shop' };

function parse(inputs: Record<string, string>): ReturnType<typeof parseConfig> {
  return parseConfig((name) => inputs[name] ?? '');
}

describe('files inputs: good', () => {
  test.each([
    ['none', {}, undefined],
    ['one path', { files: 'public/uploads' }, { entries: ['public/uploads'], exclude: [], optional: false }],
    [
      'lines, blanks and comments',
      { files: ' public/uploads \n\n# media\n/srv/media/**/*.jpg\r\nstorage', 'files-exclude': '*.tmp\ncache/\n' },
      { entries: ['public/uploads', '/srv/media/**/*.jpg', 'storage'], exclude: ['*.tmp', 'cache/'], optional: false },
    ],
    ['optional', { files: 'media', 'files-optional': 'true' }, { entries: ['media'], exclude: [], optional: true }],
    ['comments only: no files', { files: '# nothing yet\n' }, undefined],
  ] as [string, Record<string, string>, unknown][])('%s', (_, inputs, expected) => {
    expect(asBackup(parse({ ...BASE, ...inputs })).files).toEqual(expected);
  });
});

describe('files inputs: refused naming the input', () => {
  test.each([
    [
      'files with restore',
      { ...READ_ONLY, command: 'restore', files: 'uploads', confirm: 'true' },
      'files',
      /backup only/,
    ],
    ['files with drill', { ...READ_ONLY, command: 'drill', files: 'uploads' }, 'files', /backup only/],
    ['files with list', { ...READ_ONLY, command: 'list', files: 'uploads' }, 'files', /command is list/],
    ['files with check', { ...READ_ONLY, command: 'check', files: 'uploads' }, 'files', /backup only/],
    [
      'files with prune',
      { ...READ_ONLY, command: 'prune', 'keep-last': '3', files: 'uploads' },
      'files',
      /backup only/,
    ],
    [
      'files with several databases',
      { ...BASE, database: 'all', 'database-url': '', host: 'db', username: 'u', files: 'uploads' },
      'files',
      /several databases/,
    ],
    ['files-exclude without files', { ...BASE, 'files-exclude': '*.tmp' }, 'files-exclude', /files is empty/],
    ['files-optional without files', { ...BASE, 'files-optional': 'true' }, 'files-optional', /files is empty/],
    ['files-optional not a boolean', { ...BASE, files: 'x', 'files-optional': 'maybe' }, 'files-optional', /boolean/],
  ] as [string, Record<string, string>, string, RegExp][])('%s', (_, inputs, input, message) => {
    let thrown: unknown;
    try {
      parse(inputs);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).input).toBe(input);
    expect((thrown as Error).message).toMatch(message);
  });
});
