import { namePatternRegexes } from '../../src/postgres/patterns.js';

describe("pg_dump's name patterns as regexes (processSQLNamePattern)", () => {
  test.each<[string, 'schema' | 'table', ReturnType<typeof namePatternRegexes>]>([
    ['public', 'schema', { schema: '^(public)$' }],
    ['Public', 'schema', { schema: '^(public)$' }],
    ['"Public"', 'schema', { schema: '^(Public)$' }],
    ['app_*', 'schema', { schema: '^(app_.*)$' }],
    ['mydb.public', 'schema', { database: '^(mydb)$', schema: '^(public)$' }],
    ['a.b.c', 'schema', undefined],
    ['film', 'table', { name: '^(film)$' }],
    ['public.film*', 'table', { schema: '^(public)$', name: '^(film.*)$' }],
    ['*.actor', 'table', { schema: '^(.*)$', name: '^(actor)$' }],
    ['film?', 'table', { name: '^(film.)$' }],
    ['"My.Table"', 'table', { name: '^(My\\.Table)$' }],
    ['"a""b"', 'table', { name: '^(a"b)$' }],
    ['"x*"', 'table', { name: '^(x\\*)$' }],
    ['price$', 'table', { name: '^(price\\$)$' }],
    ['film_(a|b)', 'table', { name: '^(film_(a|b))$' }],
    ['db.s.t', 'table', { database: '^(db)$', schema: '^(s)$', name: '^(t)$' }],
    ['a.b.c.d', 'table', undefined],
  ])('%s (%s)', (pattern, kind, expected) => {
    expect(namePatternRegexes(pattern, kind)).toEqual(expected);
  });
});
