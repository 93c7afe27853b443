import type { DatabaseProperties } from '../../src/postgres/database-properties.js';
import { withoutSecret } from '../../src/postgres/database-properties.js';
import { compareDatabaseProperties } from '../../src/restore/database-properties-check.js';
import { ConfigError } from '../../src/errors.js';
import type { Log } from '../../src/log.js';
import {
  createDatabaseWithProperties,
  propertyProblems,
  statementWithoutValue,
  type TargetCapabilities,
} from '../../src/restore/database-properties.js';
import {
  createDatabaseSql,
  parseAclItem,
  propertyStatements,
  quoteLiteral,
  setClause,
  splitGucList,
} from '../../src/restore/database-sql.js';

const props: DatabaseProperties = {
  encoding: 'UTF8',
  localeProvider: 'icu',
  collate: 'C.UTF-8',
  ctype: 'C.UTF-8',
  locale: 'de',
  icuRules: null,
  owner: 'app owner',
  comment: "it's the shop",
  connectionLimit: 7,
  acl: ['"app owner"=CTc/"app owner"', 'reader=c/"app owner"', 'admin=C*c/"app owner"'],
  settings: ['search_path="$user", public', 'work_mem=8MB'],
  roleSettings: [{ role: 'reader', settings: ['statement_timeout=5s'] }],
};

const caps: TargetCapabilities = {
  versionNum: 150020,
  encodingKnown: true,
  icu: true,
  icuLocales: new Set(['de', 'und', 'en-US']),
  libcLocales: new Set(['c.utf8', 'en_US.utf8']),
};

describe('database properties SQL', () => {
  test('quotes literals and identifiers from the manifest', () => {
    expect(quoteLiteral("a'b")).toBe("'a''b'");
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
    expect(createDatabaseSql('x"y', props)).toBe(
      `CREATE DATABASE "x""y" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' ICU_LOCALE 'de'`,
    );
    expect(createDatabaseSql('x', props, ['locale'])).toBe(`CREATE DATABASE "x" TEMPLATE template0 ENCODING 'UTF8'`);
    expect(createDatabaseSql('x', undefined)).toBe(`CREATE DATABASE "x" TEMPLATE template0`);
  });

  test.each([
    ['work_mem=8MB', `SET "work_mem" TO '8MB'`],
    ['search_path="$user", public', `SET "search_path" TO '$user', 'public'`],
    ["app.token=x'; DROP DATABASE y; --", `SET "app.token" TO 'x''; DROP DATABASE y; --'`],
  ])('setClause(%s)', (entry, sql) => expect(setClause(entry)).toBe(sql));

  test('splits GUC lists', () => {
    expect(splitGucList('"a ""b""", c,d')).toEqual(['a "b"', 'c', 'd']);
  });

  test.each([
    ['=Tc/owner', { grantee: null, privileges: 'Tc', grantable: '', grantor: 'owner' }],
    ['"a b"=C*c/"o""x"', { grantee: 'a b', privileges: 'Cc', grantable: 'C', grantor: 'o"x' }],
  ])('parseAclItem(%s)', (text, item) => expect(parseAclItem(text)).toEqual(item));

  test('statements leave out missing roles and name them', () => {
    const { statements, missingRoles } = propertyStatements('d', props, {
      existingRoles: new Set(['app owner', 'admin']),
      roleSettings: true,
    });
    expect(missingRoles).toEqual(['reader']);
    expect(statements).toEqual([
      `ALTER DATABASE "d" OWNER TO "app owner"`,
      `COMMENT ON DATABASE "d" IS 'it''s the shop'`,
      `ALTER DATABASE "d" CONNECTION LIMIT 7`,
      `ALTER DATABASE "d" SET "search_path" TO '$user', 'public'`,
      `ALTER DATABASE "d" SET "work_mem" TO '8MB'`,
      `REVOKE ALL ON DATABASE "d" FROM PUBLIC`,
      `REVOKE ALL ON DATABASE "d" FROM "app owner"`,
      `GRANT CREATE, TEMPORARY, CONNECT ON DATABASE "d" TO "app owner"`,
      `GRANT CONNECT ON DATABASE "d" TO "admin"`,
      `GRANT CREATE ON DATABASE "d" TO "admin" WITH GRANT OPTION`,
    ]);
  });
});

describe('propertyProblems', () => {
  test.each<[string, Partial<DatabaseProperties>, Partial<TargetCapabilities>, string[]]>([
    ['all there', {}, {}, []],
    ['ICU locale with keywords', { locale: 'und-u-ks-level2' }, {}, []],
    ['unknown ICU locale', { locale: 'xx-nowhere' }, {}, ['ICU locale']],
    ['no ICU', {}, { icu: false, icuLocales: new Set() }, ['locale provider']],
    ['ICU before 15', {}, { versionNum: 140010 }, ['locale provider']],
    ['ICU rules before 16', { icuRules: '&a < b' }, {}, ['ICU rules']],
    ['libc locale missing', { localeProvider: 'libc', locale: null, collate: 'de_DE.UTF-8' }, {}, ['LC_COLLATE']],
    ['libc spelled differently', { localeProvider: 'libc', locale: null, collate: 'en_US.UTF-8' }, {}, []],
    ['builtin before 17', { localeProvider: 'builtin', locale: 'C' }, {}, ['locale provider']],
    ['unknown encoding', {}, { encodingKnown: false }, ['encoding']],
  ])('%s', (_, p, c, expected) => {
    expect(propertyProblems({ ...props, ...p }, { ...caps, ...c }).map((x) => x.property)).toEqual(expected);
  });
});

describe('compareDatabaseProperties', () => {
  const failed = (restored: Partial<DatabaseProperties>, options = {}) =>
    compareDatabaseProperties(props, { ...props, ...restored }, { roleSettings: true, ...options })
      .filter((c) => !c.passed)
      .map((c) => c.name);

  test('identical: all pass', () => expect(failed({})).toEqual([]));
  test('grantor differences do not count', () =>
    expect(failed({ acl: ['"app owner"=CTc/postgres', 'reader=c/postgres', 'admin=C*c/postgres'] })).toEqual([]));
  test.each<[Partial<DatabaseProperties>, string]>([
    [{ localeProvider: 'libc', locale: null }, 'database locale provider'],
    [{ collate: 'C' }, 'database LC_COLLATE'],
    [{ locale: 'und' }, 'database locale'],
    [{ comment: null }, 'database comment'],
    [{ owner: 'postgres' }, 'database owner'],
    [{ settings: ['work_mem=8MB'] }, 'database settings'],
    [{ settings: ['search_path="$user", public', 'work_mem=9MB'] }, 'database settings'],
    [{ acl: null }, 'database ACL'],
    [{ roleSettings: [] }, 'database per-role settings'],
    [{ connectionLimit: -1 }, 'database connection limit'],
  ])('a difference fails: %j', (restored, name) => expect(failed(restored)).toContain(name));

  test('a database that existed before the run: differences are notes', () => {
    const checks = compareDatabaseProperties(props, { ...props, owner: 'x' }, { created: false });
    expect(checks.every((c) => c.passed)).toBe(true);
    expect(checks.find((c) => c.name === 'database owner')?.note).toMatch(/existed before/);
  });

  test('missing roles and best-effort parts are notes', () => {
    expect(
      failed(
        { owner: 'postgres', acl: ['"app owner"=CTc/x', 'admin=C*c/x'] },
        { missingRoles: ['app owner', 'reader'] },
      ),
    ).toEqual(['database ACL']);
    expect(failed({ localeProvider: 'libc', locale: null }, { skipped: ['locale'] })).toEqual([]);
    expect(failed({ owner: 'postgres', acl: ['admin=C*c/x'] }, { missingRoles: ['app owner', 'reader'] })).toEqual([]);
  });

  test('setting values never appear in the checks', () => {
    const text = JSON.stringify(compareDatabaseProperties(props, { ...props, settings: ['work_mem=secret123'] }));
    expect(text).not.toContain('secret123');
    expect(text).not.toContain('8MB');
  });

  test('withoutSecret drops settings that hold the password', () => {
    const { properties, removed } = withoutSecret(
      { ...props, settings: ['app.dsn=postgres://u:hunter22@h/d'] },
      'hunter22',
    );
    expect(removed).toEqual(['app.dsn']);
    expect(JSON.stringify(properties)).not.toContain('hunter22');
    const named = withoutSecret(
      {
        ...props,
        settings: ['app.api_token=abc', 'work_mem=8MB'],
        roleSettings: [{ role: 'r', settings: ['x.password=p'] }],
      },
      undefined,
    );
    expect(named.removed).toEqual(['app.api_token', 'x.password']);
    expect(named.properties.settings).toEqual(['work_mem=8MB']);
  });

  test.each([
    [`ALTER DATABASE "d" SET "app.x" TO 'v'`, `ALTER DATABASE "d" SET "app.x"`],
    [`COMMENT ON DATABASE "d" IS 'c'`, `COMMENT ON DATABASE "d"`],
    [`ALTER ROLE "r" IN DATABASE "d" SET "a" TO 'v'`, `ALTER ROLE "r" IN DATABASE "d" SET "a"`],
  ])('statementWithoutValue(%s)', (sql, cut) => expect(statementWithoutValue(sql)).toBe(cut));
});

describe('createDatabaseWithProperties', () => {
  /** A maintenance connection that answers the capability queries from `c` and records the rest. */
  function fakeDb(c: TargetCapabilities) {
    const sql: string[] = [];
    return {
      sql,
      query<T>(text: string): Promise<{ rows: T[] }> {
        sql.push(text);
        return Promise.resolve(answer<T>(text));
      },
    };
    function answer<T>(text: string): { rows: T[] } {
      if (text.includes('pg_char_to_encoding'))
        return { rows: [{ num: String(c.versionNum), enc: c.encodingKnown ? 6 : -1 }] as T[] };
      if (text.includes('pg_collation'))
        return {
          rows: [
            ...[...c.icuLocales].map((name) => ({ provider: 'i', name })),
            ...[...c.libcLocales].map((name) => ({ provider: 'c', name })),
          ] as T[],
        };
      return { rows: [] };
    }
  }
  const log = () => {
    const lines: string[] = [];
    return { lines, info: (m: string) => lines.push(`info ${m}`), warning: (m: string) => lines.push(`warning ${m}`) };
  };

  test('an older manifest: a bare database, with an info line', async () => {
    const db = fakeDb(caps);
    const l = log();
    await createDatabaseWithProperties(db, 'x', undefined, 'exact', l as unknown as Log);
    expect(db.sql).toEqual(['CREATE DATABASE "x" TEMPLATE template0']);
    expect(l.lines.join('\n')).toMatch(/info .*no database properties/);
  });

  test('exact: a property the target cannot take fails before any CREATE, naming it and the input', async () => {
    const db = fakeDb({ ...caps, icuLocales: new Set(['und']) });
    const error = await createDatabaseWithProperties(db, 'x', props, 'exact', log() as unknown as Log).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/ICU locale: ICU locale 'de'.*database-properties: best-effort/);
    expect(db.sql.some((s) => s.startsWith('CREATE'))).toBe(false);
  });

  test('best-effort: created without the locale, with a warning naming it', async () => {
    const db = fakeDb({ ...caps, icuLocales: new Set(['und']) });
    const l = log();
    expect(await createDatabaseWithProperties(db, 'x', props, 'best-effort', l as unknown as Log)).toEqual(['locale']);
    expect(db.sql.at(-1)).toBe(`CREATE DATABASE "x" TEMPLATE template0 ENCODING 'UTF8'`);
    expect(l.lines.join('\n')).toMatch(/warning .*ICU locale/);
  });
});
