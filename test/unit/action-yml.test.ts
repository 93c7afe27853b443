import { execFileSync } from 'node:child_process';
import { databasesOutputs } from '../../src/report/databases-report.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ACTION_INPUTS, INPUT_DEFAULTS } from '../../src/config/action-inputs.js';
import { ENCRYPTION_INPUTS, encryptionSecrets } from '../../src/config/encryption.js';
import { resolveConfig } from '../../src/config/parse.js';
import { REPORTING_INPUTS, reportingSecrets } from '../../src/config/reporting.js';
import { RESTORE_INPUTS, restoreSecrets } from '../../src/config/restore.js';
import { RETENTION_INPUTS } from '../../src/config/retention.js';
import { COMMANDS } from '../../src/config/types.js';
import { SECRET_INPUTS, secretsToMask } from '../../src/config/mask.js';
import { backupOutputs } from '../../src/report/backup-report.js';
import type { BackupResult } from '../../src/report/backup-report.js';
import { VERSION } from '../../src/version.js';
import { listOutputs, pruneOutputs } from '../../src/report/retention-report.js';
import { RESTORE_OUTPUTS } from '../../src/restore/options.js';
import type { ListResult, PruneResult } from '../../src/report/retention-report.js';

interface ActionYaml {
  runs: { using: string; main: string };
  inputs: Record<string, { description?: string; default?: unknown; required?: boolean }>;
  outputs: Record<string, { description?: string }>;
}
const action = parse(readFileSync('action.yml', 'utf8')) as ActionYaml;

/**
 * Every input name the code reads: the config of each command (valid inputs, so that each parser
 * reads to its end) and the secrets to mask, through a reader that records names.
 */
async function inputsRead(): Promise<string[]> {
  const names = new Set<string>();
  const given: Record<string, string> = {
    'database-url': 'postgres://app:secret@db.example.com:5432/shop',
    destination: 'file:///tmp/backups',
    'keep-last': '3',
    'target-database-url': 'postgres://app:secret@db.example.com:5432/scratch',
  };
  const read = (name: string): string => {
    names.add(name);
    return given[name] ?? '';
  };
  for (const command of COMMANDS) await resolveConfig((name) => (name === 'command' ? command : read(name)));
  names.add('command');
  for (const secrets of [secretsToMask, reportingSecrets, encryptionSecrets, restoreSecrets]) secrets(read);
  return [...names];
}

describe('action.yml', () => {
  test('runs on node24 from the committed bundle', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  test('declares exactly the inputs the code reads, with the same defaults and a description each', async () => {
    expect(Object.keys(action.inputs).sort()).toEqual((await inputsRead()).sort());
    expect(Object.keys(action.inputs).sort()).toEqual(Object.keys(INPUT_DEFAULTS).sort());
    for (const [name, spec] of Object.entries(action.inputs)) {
      expect([name, spec.default]).toEqual([name, INPUT_DEFAULTS[name]]);
      expect(spec.description?.length ?? 0).toBeGreaterThan(10);
      expect(spec.required).toBeUndefined();
    }
    for (const secret of SECRET_INPUTS) expect(action.inputs[secret]?.default).toBe('');
  });

  test("the modules' own inputs and their descriptions are the ones in action.yml", () => {
    const squash = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();
    for (const [name, spec] of Object.entries(action.inputs))
      expect([name, ACTION_INPUTS[name]]).toEqual([name, { default: spec.default, description: spec.description }]);
    const owned = [...RETENTION_INPUTS, ...ENCRYPTION_INPUTS, ...RESTORE_INPUTS, ...REPORTING_INPUTS];
    for (const spec of owned)
      expect([spec.name, squash(action.inputs[spec.name]?.description)]).toEqual([spec.name, squash(spec.description)]);
  });

  test('declares exactly the outputs the commands set', () => {
    const result = {
      manifest: { archive: { key: 'k', bytes: 1, sha256: 's' }, durationSeconds: 1, server: { version: '15.1' } },
      destinations: [{ url: 's3://b', key: 'k', manifestKey: 'k.manifest.json', ok: true }],
      throughput: 1,
    } as unknown as BackupResult;
    const prune = pruneOutputs({ prunedCount: 0, keptCount: 0 } as unknown as PruneResult);
    const list = listOutputs({ destinations: [] } as unknown as ListResult);
    const set = [
      ...Object.keys(backupOutputs(result)),
      ...Object.keys(prune),
      ...Object.keys(list),
      ...RESTORE_OUTPUTS.map((o) => o.name),
      ...Object.keys(databasesOutputs([])),
    ];
    expect(set.sort()).toEqual(Object.keys(action.outputs).sort());
  });

  test('README lists every input and output as action.yml has them', () => {
    const table = execFileSync(process.execPath, ['scripts/inputs-table.mjs'], { encoding: 'utf8' }).trim();
    expect(readFileSync('README.md', 'utf8')).toContain(`<!-- inputs -->\n${table}\n<!-- /inputs -->`);
  });

  test('VERSION matches package.json', () => {
    expect(VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });
});
