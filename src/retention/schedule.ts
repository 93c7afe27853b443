/**
 * Missed schedules (pure): given the expected interval between backups (`max-age`), which of the
 * last periods of that length have no complete backup, and the gaps longer than it. A stopped or
 * thinned-out schedule (GitHub delays and drops scheduled runs, and disables them after 60 days
 * without repository activity) shows here before the newest backup is too old.
 */
import { formatSpan } from '../format.js';

/** How many periods of `max-age` the report looks back. */
export const SCHEDULE_PERIODS = 14;

/** A stretch longer than the expected interval without a complete backup. */
export interface ScheduleGap {
  /** ISO 8601: the backup before the gap. */
  from: string;
  /** ISO 8601: the backup after it, or the check's time for a gap still open. */
  to: string;
  /** Length of the gap, seconds. */
  seconds: number;
  /** True when `to` is now: no backup since. */
  open: boolean;
}

/** What {@link scheduleReport} found. */
export interface ScheduleReport {
  /** ISO times of the complete backups in the window, newest first. */
  recent: string[];
  /** Gaps longer than the interval in the window, newest first. */
  gaps: ScheduleGap[];
  /** Periods without a backup, of `periods` looked at (fewer when the history is shorter). */
  missed: number;
  periods: number;
  /** e.g. `no backup on 3 of the last 14 days`, `a backup in each of the last 14 periods of 26h`. */
  summary: string;
}

/**
 * Splits the `count` × `intervalSeconds` before `now` into periods of `intervalSeconds` (the newest
 * ends at `now`) and counts those holding no backup; periods wholly before the oldest backup are not
 * counted (a young history is not a missed schedule). Gaps: consecutive backups (and the newest
 * backup → now) further apart than the interval, ending inside the window.
 * @param times complete backups' times, any order.
 */
export function scheduleReport(
  times: Date[],
  intervalSeconds: number,
  now: Date,
  count = SCHEDULE_PERIODS,
): ScheduleReport {
  const p = intervalSeconds * 1000;
  const end = now.getTime();
  const start = end - count * p;
  const sorted = times.map((t) => t.getTime()).sort((a, b) => a - b);
  const oldest = sorted[0];
  const inWindow = sorted.filter((t) => t > start && t <= end);
  let periods = 0;
  let missed = 0;
  for (let i = 0; i < count; i++) {
    const hi = end - i * p;
    const lo = hi - p;
    if (oldest === undefined || hi <= oldest) break;
    periods += 1;
    if (!inWindow.some((t) => t > lo && t <= hi)) missed += 1;
  }
  const gaps: ScheduleGap[] = [];
  const points = [...sorted.filter((t) => t <= end), end];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1] as number;
    const b = points[i] as number;
    if (b - a > p && b > start)
      gaps.push({
        from: new Date(a).toISOString(),
        to: new Date(b).toISOString(),
        seconds: Math.round((b - a) / 1000),
        open: i === points.length - 1,
      });
  }
  const unit = intervalSeconds === 86_400 ? 'days' : `periods of ${formatSpan(intervalSeconds)}`;
  const summary =
    periods === 0
      ? 'no complete backup yet'
      : missed === 0
        ? `a backup in each of the last ${periods} ${unit}`
        : `no backup ${intervalSeconds === 86_400 ? 'on' : 'in'} ${missed} of the last ${periods} ${unit}`;
  return {
    recent: inWindow.reverse().map((t) => new Date(t).toISOString()),
    gaps: gaps.reverse(),
    missed,
    periods,
    summary,
  };
}
