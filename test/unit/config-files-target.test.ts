import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ConfigError } from '../../src/errors.js';
import { inapplicableInputs } from '../../src/config/applicability.js';
import { FILES_RESTORE_INPUTS, parseFilesRestoreInputs, resolveFilesTarget } from '../../src/config/files-target.js';
import { parseConfig, resolveConfig } from '../../src/config/parse.js';
import { parseRestoreInputs } from '../../src/config/restore.js';

function reader(inputs: Record<string, string>): (name: string) => string {
  return (name) => inputs[name] ?? '';
}

/** As parseConfig reads them: empty inputs take their action.yml default. */
function withDefaults(inputs: Record<string, string>): (name: string) => string {
  const defaults = Object.fromEntries(FILES_RESTORE_INPUTS.map((i) => [i.name, i.default]));
  return (name) => inputs[name] || defaults[name] || '';
}

const URL = 'postgres://restorer:secret@db.example.com:5432/restored';
const BASE = { command: 'restore', database: 'shop', destination: 'file:///tmp/backups' };

describe('parseFilesRestoreInputs', () => {
  test.each([
    ['unset', {}, undefined],
    ['a target', { 'files-target': 'uploads' }, { folder: 'uploads', only: false, overwrite: false }],
    [
      'a target, files only',
      { 'files-target': '/srv/app/uploads', 'files-only': 'true' },
      { folder: '/srv/app/uploads', only: true, overwrite: false },
    ],
    [
      'a target with overwrite',
      { 'files-target': 'media', 'files-overwrite': 'true' },
      { folder: 'media', only: false, overwrite: true },
    ],
    ['false flags without a target', { 'files-only': 'false', 'files-overwrite': 'false' }, undefined],
  ])('%s', (_name, inputs: Record<string, string>, expected) => {
    expect(parseFilesRestoreInputs(withDefaults(inputs))).toEqual(expected);
  });

  test.each([
    ['files-only without files-target', { 'files-only': 'true' }, 'files-only', 'needs files-target'],
    ['files-overwrite without files-target', { 'files-overwrite': 'true' }, 'files-overwrite', 'files-target'],
    ['files-only not a boolean', { 'files-target': 'x', 'files-only': 'yes please' }, 'files-only', ''],
    ['files-overwrite not a boolean', { 'files-target': 'x', 'files-overwrite': '2' }, 'files-overwrite', ''],
    ['a NUL in files-target', { 'files-target': 'a\0b' }, 'files-target', 'NUL'],
  ])('%s is refused naming the input', (_name, inputs: Record<string, string>, input, text) => {
    let error: unknown;
    try {
      parseFilesRestoreInputs(withDefaults(inputs));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).input).toBe(input);
    expect((error as Error).message).toContain(text);
  });
});

describe('parseRestoreInputs with files', () => {
  test('restore carries the files settings', () => {
    const parsed = parseRestoreInputs(reader({ command: 'restore', 'target-database-url': URL, 'files-target': 'up' }));
    expect(parsed).toMatchObject({ command: 'restore', files: { folder: 'up', only: false, overwrite: false } });
  });

  test('files-only needs no target database', () => {
    const parsed = parseRestoreInputs(reader({ command: 'restore', 'files-target': 'up', 'files-only': 'true' }));
    expect(parsed).toMatchObject({ command: 'restore', files: { folder: 'up', only: true } });
  });

  test('without files-only the target database is still required', () => {
    expect(() => parseRestoreInputs(reader({ command: 'restore', 'files-target': 'up' }))).toThrow(ConfigError);
  });

  test('files-only without files-target is refused before anything else', () => {
    expect(() => parseConfig(reader({ ...BASE, 'target-database-url': URL, 'files-only': 'true' }))).toThrow(
      /files-only.*needs files-target/,
    );
  });

  test('a drill ignores the files inputs, and is warned about them', () => {
    const inputs = { command: 'drill', 'target-database-url': URL.replace('restored', 'scratch'), 'files-target': 'x' };
    expect(parseRestoreInputs(reader(inputs))).not.toHaveProperty('files');
    expect(inapplicableInputs('drill', reader(inputs))).toEqual(['files-target']);
    expect(inapplicableInputs('restore', reader(inputs))).toEqual([]);
  });
});

describe('resolveFilesTarget (on disk)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'files-target-'));
    await mkdir(path.join(dir, 'folder'));
    await writeFile(path.join(dir, 'file.txt'), 'x');
    await symlink(path.join(dir, 'folder'), path.join(dir, 'link-to-folder'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test.each([
    ['a missing folder', 'new/deeper'],
    ['an existing folder', 'folder'],
    ['a link to a folder', 'link-to-folder'],
  ])('%s is accepted and made absolute', async (_name, given) => {
    const resolved = await resolveFilesTarget({ folder: given, only: false, overwrite: false }, dir);
    expect(resolved.folder).toBe(path.join(dir, given));
  });

  test('an absolute folder stays as given', async () => {
    const folder = path.join(dir, 'folder');
    expect((await resolveFilesTarget({ folder, only: true, overwrite: false }, '/elsewhere')).folder).toBe(folder);
  });

  test('a file is refused naming files-target', async () => {
    await expect(resolveFilesTarget({ folder: 'file.txt', only: false, overwrite: false }, dir)).rejects.toMatchObject({
      input: 'files-target',
      message: expect.stringContaining('is a file') as unknown,
    });
  });

  test('resolveConfig refuses a files-target that is a file before any work', async () => {
    const inputs = { ...BASE, 'target-database-url': URL, 'files-target': path.join(dir, 'file.txt') };
    await expect(resolveConfig(reader(inputs))).rejects.toBeInstanceOf(ConfigError);
    const ok = await resolveConfig(reader({ ...inputs, 'files-target': path.join(dir, 'folder') }));
    expect(ok).toMatchObject({ command: 'restore', files: { folder: path.join(dir, 'folder') } });
  });
});
