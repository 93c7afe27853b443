import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { INPUT_DEFAULTS, MODULE_INPUTS } from '../../src/config/inputs.js';
import { SECRET_INPUTS } from '../../src/config/mask.js';
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

describe('action.yml', () => {
  test('runs on node24 from the committed bundle', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  test('declares exactly the inputs the code reads, with the same defaults and a description each', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.keys(INPUT_DEFAULTS).sort());
    for (const [name, spec] of Object.entries(action.inputs)) {
      expect([name, spec.default]).toEqual([name, INPUT_DEFAULTS[name]]);
      expect(spec.description?.length ?? 0).toBeGreaterThan(10);
      expect(spec.required).toBeUndefined();
    }
    for (const secret of SECRET_INPUTS) expect(action.inputs[secret]?.default).toBe('');
  });

  test("the modules' own input descriptions are the ones in action.yml", () => {
    const squash = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();
    for (const spec of MODULE_INPUTS)
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
