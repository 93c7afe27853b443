import { ConfigError, ConnectionError } from '../../src/errors.js';
import { planServerDatabases } from '../../src/postgres/databases.js';
import {
  backupsJson,
  databasesSummary,
  DatabasesError,
  type DatabaseOutcome,
} from '../../src/report/databases-report.js';
import { databaseConfig, mergeOutputs } from '../../src/run/databases.js';
import { parseConfig } from '../../src/config/parse.js';
import type { Config, DatabaseSelection } from '../../src/config/types.js';

const SHA = 'ab'.repeat(32);
const OUTCOMES: DatabaseOutcome[] = [
  {
    database: 'app',
    status: 'ok',
    key: 'p/app/k.dump',
    manifestKey: 'p/app/k.dump.manifest.json',
    bytes: 2048,
    sha256: SHA,
    seconds: 1.23456,
    summary: '## PostgreSQL backup: app\n\n| | |\n|---|---|\n| Database | `app` |\n',
  },
  { database: 'my db ü', status: 'failed', seconds: 0.5, error: 'pg_dump: error | boom\nsecond line', phase: 'dump' },
  { database: 'tmp', status: 'skipped', seconds: 0 },
];

describe('backups-json', () => {
  test('one element per database, undefined fields left out, seconds to ms, no summary or phase', () => {
    expect(JSON.parse(backupsJson(OUTCOMES))).toEqual([
      {
        database: 'app',
        status: 'ok',
        key: 'p/app/k.dump',
        manifestKey: 'p/app/k.dump.manifest.json',
        bytes: 2048,
        sha256: SHA,
        seconds: 1.235,
      },
      { database: 'my db ü', status: 'failed', seconds: 0.5, error: 'pg_dump: error | boom\nsecond line' },
      { database: 'tmp', status: 'skipped', seconds: 0 },
    ]);
  });
});

describe('the summary of several databases', () => {
  const summary = databasesSummary('backup', OUTCOMES, 2);
  test.each([
    ['heading', '## backup: 3 databases'],
    ['ok row', `| \`app\` | ✅ ok | 2.0 kB | \`${SHA.slice(0, 12)}\` |`],
    ['failed row', '| `my db ü` | ❌ failed | — | — |'],
    ['skipped row', '| `tmp` | ⏭️ skipped | — | — | — |'],
    ['total row', '| **Total** (3) | 1 ok, 1 failed, 1 skipped | 2.0 kB | |'],
    ['the failure on one line, pipes escaped', '- `my db ü`: pg_dump: error \\| boom second line'],
    ["each database's own summary, its headings one level down", '### PostgreSQL backup: app\n\n| | |'],
    ['durations under a minute to a tenth of a second', '| 1.2 s |'],
  ])('%s', (_name, text) => {
    expect(summary).toContain(text);
  });
});

describe('the error of a run with failed databases', () => {
  test('names each failed database with its phase and reason, the stored ones, and takes the first phase', () => {
    const error = new DatabasesError(OUTCOMES, 'backup');
    expect(error.phase).toBe('dump');
    expect(error.message).toBe(
      'backup failed for 1 of 2 databases: my db ü (dump: pg_dump: error | boom\nsecond line). Stored and verified: app. Fix the causes named and run again; each database is handled on its own.',
    );
  });
});

describe('which of the server databases all backs up', () => {
  const found = [
    { name: 'app', canConnect: true },
    { name: 'locked', canConnect: false },
    { name: 'my db ü', canConnect: true },
    { name: 'postgres', canConnect: true },
  ];
  test.each<[string[], string[], string[], string[]]>([
    [['locked'], ['app', 'my db ü', 'postgres'], ['locked'], ['locked']],
    [['locked', 'postgres'], ['app', 'my db ü'], ['locked', 'postgres'], ['locked']],
    [['lock*', '"my db ü"'], ['app', 'postgres'], ['locked', 'my db ü'], ['locked']],
  ])('exclude %j runs %j', (exclude, run, excluded, warned) => {
    expect(planServerDatabases(found, exclude, 'backup')).toEqual({ run, excluded, unconnectableExcluded: warned });
  });
  test('a database the role cannot connect to, not excluded: one error naming it and both fixes', () => {
    expect(() => planServerDatabases(found, [], 'backup')).toThrow(ConnectionError);
    expect(() => planServerDatabases(found, [], 'backup')).toThrow(
      /may not connect to database "locked".*GRANT CONNECT ON DATABASE "locked" TO "backup";.*exclude-database/,
    );
  });
  test('exclude-database leaving nothing is a ConfigError naming it', () => {
    let error: unknown;
    try {
      planServerDatabases(found, ['*'], 'backup');
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).input).toBe('exclude-database');
  });
});

describe("each database's config", () => {
  const reader = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? '';
  const backup = parseConfig(
    reader({ 'database-url': 'postgres://u:p@h/postgres', database: 'all', globals: 'true', destination: 'file:///x' }),
  ) as Config & { databases: DatabaseSelection };
  test.each([
    [0, true],
    [1, false],
  ])('backup #%d: its name, its connection, globals %s', (index, globals) => {
    const config = databaseConfig(backup, 'my db ü', index);
    if (config.command !== 'backup') throw new Error('not a backup');
    expect(config).not.toHaveProperty('databases');
    expect([config.database, config.connection.database, config.dump.globals]).toEqual(['my db ü', 'my db ü', globals]);
  });
  test('a drill restores each database into a scratch database of its own', () => {
    const drill = parseConfig(
      reader({
        command: 'drill',
        database: 'a\nb',
        destination: 'file:///x',
        'target-database-url': 'postgres://u:p@h/scratch',
      }),
    ) as Config & { databases: DatabaseSelection };
    const config = databaseConfig(drill, 'my db ü', 0);
    if (config.command !== 'drill') throw new Error('not a drill');
    expect(config.target.database).toBe('scratch_my db ü');
    const long = databaseConfig(drill, 'x'.repeat(60), 4);
    if (long.command !== 'drill') throw new Error('not a drill');
    expect(long.target.database).toBe('scratch_5');
  });
});

describe('the outputs of several databases', () => {
  test.each<[string, Record<string, string>[], Record<string, string>]>([
    ['first one set wins', [{ 'backup-key': 'a' }, { 'backup-key': 'b' }], { 'backup-key': 'a' }],
    ['a failed first one leaves the next', [{}, { 'backup-key': 'b' }], { 'backup-key': 'b' }],
    ['counts are summed', [{ 'pruned-count': '2' }, { 'pruned-count': '3' }], { 'pruned-count': '5' }],
    ['JSON arrays concatenate', [{ backups: '[1]' }, { backups: '[2,3]' }], { backups: '[1,2,3]' }],
    ['drill-passed needs all', [{ 'drill-passed': 'true' }, { 'drill-passed': 'false' }], { 'drill-passed': 'false' }],
  ])('%s', (_name, per, merged) => {
    expect(mergeOutputs(per)).toEqual(merged);
  });
});
