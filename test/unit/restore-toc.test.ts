/** Choosing archive entries for table- and schema-level restore (restore/toc.ts), as tables. */
import { buildPgRestoreArgs, restoreMode } from '../../src/restore/args.js';
import { parseDependencies, parseTocList, selectToc, tocListText, type TocSelection } from '../../src/restore/toc.js';

const LIST = `;
; Archive created at 2026-12-07 12:00:00 UTC
;
5; 2615 16390 SCHEMA - shop postgres
6; 2615 16391 SCHEMA - archive postgres
840; 1247 16393 TYPE shop order_status postgres
214; 1259 16400 TABLE shop customers postgres
215; 1259 16410 TABLE shop orders postgres
216; 1259 16409 SEQUENCE shop orders_id_seq postgres
217; 1259 16420 TABLE archive old_orders postgres
3300; 0 16400 TABLE DATA shop customers postgres
3301; 0 16410 TABLE DATA shop orders postgres
3302; 0 0 SEQUENCE SET shop orders_id_seq postgres
3303; 0 16420 TABLE DATA archive old_orders postgres
3200; 2606 16415 CONSTRAINT shop orders orders_pkey postgres
3201; 1259 16416 INDEX shop orders_placed_at_idx postgres
3202; 2606 16417 FK CONSTRAINT shop orders orders_customer_id_fkey postgres
3203; 0 0 COMMENT shop TABLE orders postgres
3204; 0 0 ACL shop TABLE orders postgres
`;

const SCRIPT = `--
-- TOC entry 840 (class 1247 OID 16393)
-- Dependencies: 5
-- Name: order_status; Type: TYPE; Schema: shop; Owner: postgres
--
-- TOC entry 214 (class 1259 OID 16400)
-- Dependencies: 5
--
-- TOC entry 215 (class 1259 OID 16410)
-- Dependencies: 5 840
--
-- TOC entry 216 (class 1259 OID 16409)
-- Dependencies: 5 215
--
-- TOC entry 217 (class 1259 OID 16420)
-- Dependencies: 6
--
-- TOC entry 3200 (class 2606 OID 16415)
-- Dependencies: 215
--
-- TOC entry 3201 (class 1259 OID 16416)
-- Dependencies: 215
--
-- TOC entry 3202 (class 2606 OID 16417)
-- Dependencies: 215 214 3200
--
-- TOC entry 3203 (class 0 OID 0)
-- Dependencies: 215
--
-- TOC entry 3204 (class 0 OID 0)
-- Dependencies: 215
`;

const NONE: TocSelection = { tables: [], schemas: [], excludeTables: [], excludeSchemas: [] };

test('parseTocList reads multi-word descriptions and tags', () => {
  const entries = parseTocList(LIST);
  expect(entries).toHaveLength(16);
  expect(entries.find((e) => e.id === 3202)).toMatchObject({
    desc: 'FK CONSTRAINT',
    schema: 'shop',
    tag: 'orders orders_customer_id_fkey',
  });
  expect(entries.find((e) => e.id === 3302)).toMatchObject({ desc: 'SEQUENCE SET', tag: 'orders_id_seq' });
  expect(parseDependencies(SCRIPT).get(3202)).toEqual([215, 214, 3200]);
});

test.each<[string, Partial<TocSelection>, string[], number[], [string, string][]]>([
  [
    'table shop.orders: its type, schema, identity sequence, key, index, comment, ACL and data; not the FK to customers',
    { tables: ['shop.orders'] },
    [],
    [5, 840, 215, 216, 3301, 3302, 3200, 3201, 3203, 3204],
    [],
  ],
  [
    'an unqualified, upper-case name matches in any schema',
    { tables: ['ORDERS'] },
    ['shop'],
    [840, 215, 216, 3301, 3302, 3200, 3201, 3203, 3204],
    [],
  ],
  [
    'a wildcard: both tables of shop, and now the FK too',
    { tables: ['shop.*'] },
    [],
    [5, 840, 214, 215, 216, 3300, 3301, 3302, 3200, 3201, 3202, 3203, 3204],
    [],
  ],
  ['schema archive: its schema, table and data', { schemas: ['archive'] }, [], [6, 217, 3303], []],
  ['exclude-table inside a schema', { schemas: ['shop'], excludeTables: ['shop.orders'] }, [], [5, 840, 214, 3300], []],
  [
    'patterns matching nothing are named',
    { tables: ['shop.ordres', 'shop.orders'] },
    [],
    [5, 840, 215, 216, 3301, 3302, 3200, 3201, 3203, 3204],
    [['table', 'shop.ordres']],
  ],
  ['a schema matching nothing', { schemas: ['audit'] }, [], [], [['schema', 'audit']]],
])('%s', (_name, selection, existing, kept, unmatched) => {
  const entries = parseTocList(LIST);
  const choice = selectToc(entries, parseDependencies(SCRIPT), { ...NONE, ...selection }, existing);
  expect([...choice.keep].sort((a, b) => a - b)).toEqual([...kept].sort((a, b) => a - b));
  expect(choice.unmatched).toEqual(unmatched);
  const list = tocListText(entries, choice.keep);
  expect(list.split('\n').filter((l) => l !== '')).toHaveLength(kept.length);
});

test('a selection makes a custom archive go through a file, refuses a plain one, and adds --use-list', () => {
  const base = { clean: false, jobs: 1, noOwner: false, noPrivileges: false };
  const selection = { ...NONE, tables: ['shop.orders'] };
  expect(restoreMode('custom', { ...base, selection })).toEqual({ mode: 'pg_restore-file', warnings: [] });
  expect(restoreMode('custom', { ...base, selection: NONE })).toEqual({ mode: 'pg_restore-stdin', warnings: [] });
  expect(() => restoreMode('plain', { ...base, selection })).toThrow(/apply to custom and directory archives/);
  expect(buildPgRestoreArgs('shop', { ...base, noStatistics: true }, '/tmp/a.dump', '/tmp/l.list')).toEqual([
    '--exit-on-error',
    '--no-password',
    "--dbname=dbname='shop'",
    '--use-list=/tmp/l.list',
    '--no-statistics',
    '/tmp/a.dump',
  ]);
});
