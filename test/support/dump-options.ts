/**
 * Dump options for tests: what the action's defaults parse into (custom format, zstd, one job, no
 * filters, no lock-wait timeout), with `overrides` on top. One place, so a new option is added once.
 */
import type { DumpOptions } from '../../src/postgres/types.js';

export function dumpOptionsFixture(overrides: Partial<DumpOptions> = {}): DumpOptions {
  return {
    format: 'custom',
    compression: { method: 'zstd', level: 3 },
    jobs: 1,
    schemas: [],
    excludeSchemas: [],
    tables: [],
    excludeTables: [],
    excludeTableData: [],
    schemaOnly: false,
    dataOnly: false,
    noOwner: false,
    noPrivileges: false,
    globals: false,
    extraArgs: [],
    ...overrides,
  };
}
