import { describe, expect, it } from '@jest/globals';
import { scheduleReport } from '../../src/retention/schedule.js';

const now = new Date('2026-12-07T12:00:00Z');
const DAY = 86_400;
/** Backups at 03:00 UTC on each of these days before now's (1 = yesterday). */
const daysAgo = (...days: number[]): Date[] => days.map((d) => new Date(Date.UTC(2026, 11, 7 - d, 3)));
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('scheduleReport', () => {
  const cases: {
    name: string;
    times: Date[];
    interval: number;
    missed: number;
    periods: number;
    summary: string;
    gaps: number;
  }[] = [
    {
      name: 'a daily backup every day, including today',
      times: [...daysAgo(...range(1, 20)), ...daysAgo(0)],
      interval: DAY,
      missed: 0,
      periods: 14,
      summary: 'a backup in each of the last 14 days',
      gaps: 0,
    },
    {
      name: 'three days missed in the window',
      times: daysAgo(...range(0, 20).filter((d) => ![3, 7, 8].includes(d))),
      interval: DAY,
      missed: 3,
      periods: 14,
      summary: 'no backup on 3 of the last 14 days',
      gaps: 2,
    },
    {
      name: 'stopped five days ago: an open gap',
      times: daysAgo(...range(5, 30)),
      interval: DAY,
      missed: 5,
      periods: 14,
      summary: 'no backup on 5 of the last 14 days',
      gaps: 1,
    },
    {
      name: 'a young history counts only its own periods',
      times: daysAgo(0, 1, 2),
      interval: DAY,
      missed: 0,
      periods: 3,
      summary: 'a backup in each of the last 3 days',
      gaps: 0,
    },
    {
      name: 'a 26h max-age: periods of 26h',
      times: daysAgo(...range(0, 20)),
      interval: 26 * 3600,
      missed: 0,
      periods: 14,
      summary: 'a backup in each of the last 14 periods of 1d 2h',
      gaps: 0,
    },
    { name: 'no backups', times: [], interval: DAY, missed: 0, periods: 0, summary: 'no complete backup yet', gaps: 0 },
  ];
  it.each(cases)('$name', ({ times, interval, missed, periods, summary, gaps }) => {
    const r = scheduleReport(times, interval, now);
    expect([r.missed, r.periods, r.summary, r.gaps.length]).toEqual([missed, periods, summary, gaps]);
  });

  it('lists the recent times newest first and the gaps with their lengths', () => {
    const r = scheduleReport(daysAgo(4, 5, 6), DAY, now, 3);
    expect(r.recent).toEqual([]);
    expect(r.gaps).toEqual([
      { from: '2026-12-03T03:00:00.000Z', to: now.toISOString(), seconds: 4 * DAY + 9 * 3600, open: true },
    ]);
    const s = scheduleReport(daysAgo(0, 3), DAY, now);
    expect(s.recent).toEqual(['2026-12-07T03:00:00.000Z', '2026-12-04T03:00:00.000Z']);
    expect(s.gaps).toEqual([
      { from: '2026-12-04T03:00:00.000Z', to: '2026-12-07T03:00:00.000Z', seconds: 3 * DAY, open: false },
    ]);
  });
});
