import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/errors.js';
import { databasePatternRegex, notExcluded } from '../../src/postgres/patterns.js';
import { databaseFromSegment, databaseSegment, databasesInListing } from '../../src/storage/keys.js';

/** An InputReader over a plain object ('' for anything not set, like the runner). */
function reader(inputs: Record<string, string>): (name: string) => string {
  return (name) => inputs[name] ?? '';
}

const URL = { 'database-url': 'postgres://app:secret@db.example.com:5432/shop', destination: 's3://backups/prod' };
const HOST = { host: 'db.example.com', username: 'app', destination: 's3://backups/prod' };

describe('database: all and lists (good inputs)', () => {
  test.each<[string, Record<string, string>, object, string]>([
    ['url + all', { ...URL, database: 'all' }, { mode: 'all', names: [], exclude: [], parallel: 1 }, 'shop'],
    [
      'host + all connects to postgres',
      { ...HOST, database: 'all' },
      { mode: 'all', names: [], exclude: [], parallel: 1 },
      'postgres',
    ],
    [
      'url + a list, excludes and parallel',
      { ...URL, database: 'b\nmy db ü\n\na', 'exclude-database': 'tmp_*', 'parallel-databases': '4' },
      { mode: 'list', names: ['b', 'my db ü', 'a'], exclude: ['tmp_*'], parallel: 4 },
      'shop',
    ],
  ])('backup: %s', (_name, inputs, databases, connectTo) => {
    const config = parseConfig(reader(inputs));
    if (config.command !== 'backup') throw new Error('not a backup');
    expect(config.databases).toEqual(databases);
    expect(config.connection.database).toBe(connectTo);
    expect(config.database).toBe(inputs['database'] === 'all' ? 'all' : 'b, my db ü, a');
  });

  test.each(['list', 'check', 'prune', 'drill'])('%s accepts all without a connection', (command) => {
    const config = parseConfig(
      reader({
        command,
        database: 'all',
        destination: 'file:///tmp/x',
        'keep-last': '3',
        'target-database-url': 'postgres://u:p@localhost/scratch',
      }),
    );
    expect(config.databases).toEqual({ mode: 'all', names: [], exclude: [], parallel: 1 });
    expect(config.database).toBe('all');
  });

  test('one name leaves the config without databases', () => {
    expect(parseConfig(reader({ command: 'list', database: 'shop', destination: 'file:///tmp/x' }))).not.toHaveProperty(
      'databases',
    );
  });
});

describe('database: all and lists (bad inputs, refused before any work, naming the input)', () => {
  test.each<[string, Record<string, string>, string, RegExp]>([
    [
      'restore with all',
      { command: 'restore', database: 'all', destination: 'file:///tmp/x' },
      'database',
      /restore takes one database/,
    ],
    [
      'restore with a list',
      { command: 'restore', database: 'a\nb', destination: 'file:///tmp/x' },
      'database',
      /restore takes one database/,
    ],
    [
      'drill with all and a backup-key',
      { command: 'drill', database: 'all', destination: 'file:///tmp/x', 'backup-key': 'a/k.dump' },
      'backup-key',
      /names one archive/,
    ],
    ['a duplicate name', { ...URL, database: 'a\nb\na' }, 'database', /'a' is listed twice/],
    ["'all' inside a list", { ...URL, database: 'a\nall' }, 'database', /'all' is in a list/],
    ['all with table', { ...URL, database: 'all', table: 'orders' }, 'table', /ambiguous across databases/],
    ['all with schema', { ...URL, database: 'all', schema: 'public' }, 'schema', /ambiguous across databases/],
    ['list with exclude-table', { ...URL, database: 'a\nb', 'exclude-table': 'x' }, 'exclude-table', /ambiguous/],
    ['list with exclude-schema', { ...URL, database: 'a\nb', 'exclude-schema': 'x' }, 'exclude-schema', /ambiguous/],
    ['parallel 0', { ...URL, database: 'all', 'parallel-databases': '0' }, 'parallel-databases', /out of range/],
    ['parallel 17', { ...URL, database: 'all', 'parallel-databases': '17' }, 'parallel-databases', /out of range/],
    [
      'parallel 1.5',
      { ...URL, database: 'all', 'parallel-databases': '1.5' },
      'parallel-databases',
      /not a whole number/,
    ],
    [
      'parallel two',
      { ...URL, database: 'all', 'parallel-databases': 'two' },
      'parallel-databases',
      /not a whole number/,
    ],
    [
      'exclude everything listed',
      { ...URL, database: 'a\nb', 'exclude-database': '*' },
      'exclude-database',
      /every database \(a, b\)/,
    ],
    [
      'exclude each listed',
      { ...URL, database: 'App\nb', 'exclude-database': '"App"\nB' },
      'exclude-database',
      /every database/,
    ],
    [
      'exclude with a dot',
      { ...URL, database: 'all', 'exclude-database': 'a.b' },
      'exclude-database',
      /not a database name pattern/,
    ],
    ['exclude without all', { ...URL, 'exclude-database': 'x' }, 'exclude-database', /applies only with database: all/],
  ])('%s', (_name, inputs, input, message) => {
    let error: unknown;
    try {
      parseConfig(reader(inputs));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).input).toBe(input);
    expect((error as ConfigError).message).toMatch(message);
  });
});

describe("exclude-database patterns (pg_dumpall's --exclude-database)", () => {
  const names = ['app', 'App', 'app_staging', 'my db ü', 'a.b', 'tmp1', 'tmp22'];
  test.each<[string[], string[]]>([
    [[], names],
    [['app'], ['App', 'app_staging', 'my db ü', 'a.b', 'tmp1', 'tmp22']],
    [['APP'], ['App', 'app_staging', 'my db ü', 'a.b', 'tmp1', 'tmp22']],
    [['"App"'], ['app', 'app_staging', 'my db ü', 'a.b', 'tmp1', 'tmp22']],
    [['app*'], ['App', 'my db ü', 'a.b', 'tmp1', 'tmp22']],
    [['tmp?'], ['app', 'App', 'app_staging', 'my db ü', 'a.b', 'tmp22']],
    [
      ['"my db ü"', '"a.b"'],
      ['app', 'App', 'app_staging', 'tmp1', 'tmp22'],
    ],
    [['my db*'], ['app', 'App', 'app_staging', 'a.b', 'tmp1', 'tmp22']],
  ])('%j leaves %j', (patterns, left) => {
    expect(notExcluded(names, patterns)).toEqual(left);
  });
  test.each(['a.b', 'x.y.z', '('])('%s is refused', (pattern) => {
    expect(databasePatternRegex(pattern)).toBeUndefined();
  });
});

describe('database key segments decode back', () => {
  test.each(['shop', 'my db ü', 'a/b', '..', '.', 'a.b', '100%', 'ÄÖ', 'x%41'])('%s', (name) => {
    expect(databaseFromSegment(databaseSegment(name))).toBe(name);
  });
  test.each(['%zz', '', 'a%41', 'my%20db%20%c3%bc'])('%s is no segment we write', (segment) => {
    expect(databaseFromSegment(segment)).toBeUndefined();
  });
  test('the databases of a listing: those holding a manifest, sorted, each once', () => {
    const keys = [
      'p/shop/2026-01-01T000000Z.dump',
      'p/shop/2026-01-01T000000Z.dump.manifest.json',
      'p/shop/2026-01-02T000000Z.dump.manifest.json',
      'p/my%20db%20%C3%BC/2026-01-01T000000Z.dump.manifest.json',
      'p/only-archive/2026-01-01T000000Z.dump',
      'p/a%41/2026-01-01T000000Z.dump.manifest.json',
      'p/x/y/2026-01-01T000000Z.dump.manifest.json',
      'q/other/2026-01-01T000000Z.dump.manifest.json',
      'p/2026-01-01T000000Z.dump.manifest.json',
    ];
    expect(databasesInListing(keys, 'p')).toEqual(['my db ü', 'shop']);
    expect(databasesInListing(['shop/k.manifest.json'], '')).toEqual(['shop']);
  });
});
