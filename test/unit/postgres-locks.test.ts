import {
  describeHolder,
  describeLockWait,
  lockWaitRelations,
  markLockWait,
  relationsOfLockQuery,
  type LockHolder,
} from '../../src/postgres/locks.js';

describe('relationsOfLockQuery', () => {
  test.each<[string, string[]]>([
    // pg_dump 15.18 on this machine, lock-wait-timeout fired.
    [
      'pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.small IN ACCESS SHARE MODE\n',
      ['public.small'],
    ],
    // pg_dump 16+ locks several tables per statement; quoted names keep their case and dots.
    [
      'pg_dump: detail: Query was: LOCK TABLE public.a, ONLY "Sales"."Q1.orders", s."x""y" IN ACCESS SHARE MODE',
      ['public.a', 'Sales.Q1.orders', 's.x"y'],
    ],
    ['pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout', []],
  ])('%#', (stderr, relations) => {
    expect(relationsOfLockQuery(stderr)).toEqual(relations);
  });
});

describe('texts', () => {
  const holder: LockHolder = {
    pid: 4242,
    applicationName: 'migration-42',
    user: 'deploy',
    queryStart: '2026-12-07T01:02:03Z',
    state: 'idle in transaction',
    modes: ['AccessExclusiveLock'],
  };

  test('a holder with everything visible', () => {
    expect(describeHolder(holder)).toBe(
      'pid 4242 (application "migration-42", user deploy, holds AccessExclusiveLock, idle in transaction, query started 2026-12-07T01:02:03Z)',
    );
  });

  test("another role's session without pg_read_all_stats, queued ahead of ours", () => {
    expect(describeHolder({ ...holder, queryStart: null, state: null, modes: [] })).toBe(
      'pid 4242 (application "migration-42", user deploy, waits ahead in the lock queue, query start not visible to this role (pg_read_all_stats shows it))',
    );
  });

  test('a wait names the waiter, the relation, the mode and the holders', () => {
    expect(
      describeLockWait(
        {
          pid: 7,
          waiter: 'pg_dump',
          relation: 'public.orders',
          lockType: 'relation',
          mode: 'AccessShareLock',
          holders: [holder],
        },
        30.4,
      ),
    ).toBe(
      'pg_dump (backend pid 7) has waited 30 s for AccessShareLock on public.orders, blocked by pid 4242 (application "migration-42", user deploy, holds AccessExclusiveLock, idle in transaction, query started 2026-12-07T01:02:03Z).',
    );
  });
});

test('markLockWait attaches relations to that error only', () => {
  const error = markLockWait(new Error('x'), ['public.orders']);
  expect(lockWaitRelations(error)).toEqual(['public.orders']);
  expect(lockWaitRelations(new Error('x'))).toBeUndefined();
  expect(lockWaitRelations(undefined)).toBeUndefined();
});
