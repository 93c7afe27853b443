/**
 * The retention planner: which backups a policy keeps, and why. Pure (no I/O, no clock).
 *
 * Semantics follow restic's `forget` policy (https://restic.readthedocs.io/en/stable/060_forget.html
 * and `internal/restic/snapshot_policy.go`), adapted as documented in docs/retention.md:
 * - calendar buckets are UTC days, ISO weeks, months and years;
 * - `within` is measured from `now` (restic: from the newest snapshot);
 * - per-label rules replace restic's `--keep-tag` (with a duration);
 * - only complete backups (with a manifest) count; the newest one is always kept;
 * - archives without a manifest are kept unless older than the oldest kept backup;
 * - backups dated more than {@link CLOCK_SKEW_SECONDS} after `now` are kept, with a warning.
 */
import type { BackupEntry } from '../storage/catalog.js';
import type { RetentionPolicy } from './policy.js';

/** Tolerance, in seconds, before a backup's time counts as "from the future". */
export const CLOCK_SKEW_SECONDS = 300;

/** A backup the plan keeps, with every rule that keeps it (e.g. `daily 3/7`, `within 30d`). */
export interface KeptBackup {
  backup: BackupEntry;
  reasons: string[];
}

/** A backup the plan deletes, and why (`no rule keeps it`, or why an incomplete archive goes). */
export interface DeletedBackup {
  backup: BackupEntry;
  why: string;
}

/** The outcome of {@link planRetention}. Every input backup is in exactly one of `kept` and `deleted`. */
export interface RetentionPlan {
  now: Date;
  policy: RetentionPolicy;
  /** Newest first. */
  kept: KeptBackup[];
  /** Newest first. */
  deleted: DeletedBackup[];
  /** Backups from the future (clock skew), … : things a user should look at. */
  warnings: string[];
}

type Bucket = 'daily' | 'weekly' | 'monthly' | 'yearly';
const BUCKETS: readonly Bucket[] = ['daily', 'weekly', 'monthly', 'yearly'];

/** The period a time falls in, in UTC: `2024-02-29`, `2020-W53`, `2024-02`, `2024`. */
export function bucketOf(bucket: Bucket, time: Date): string {
  const iso = time.toISOString();
  switch (bucket) {
    case 'daily':
      return iso.slice(0, 10);
    case 'weekly':
      return isoWeek(time);
    case 'monthly':
      return iso.slice(0, 7);
    case 'yearly':
      return iso.slice(0, 4);
  }
}

/** ISO 8601 week of a UTC time, e.g. `2020-W53` for 2021-01-03 (weeks start on Monday; week 1 holds the first Thursday). */
export function isoWeek(time: Date): string {
  const day = Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate());
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday = 0
  const thursday = new Date(day + (3 - weekday) * 86_400_000);
  const year = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** Newest first: by time, then by key (code-point order; the later key counts as newer). */
export function newestFirst(a: BackupEntry, b: BackupEntry): number {
  const dt = b.time.getTime() - a.time.getTime();
  if (dt !== 0) return dt;
  return a.key < b.key ? 1 : a.key > b.key ? -1 : 0;
}

/**
 * Decides which backups `policy` keeps at `now`.
 *
 * Rules (a backup kept by any rule is kept; all its reasons are listed, in this order):
 * - `from the future`: time > now + 5 min. Kept, left out of every other rule, and a warning is
 *   returned (a runner clock that is behind would otherwise make recent backups count as old).
 * - `newest complete`: the newest complete backup (not from the future) is always kept.
 * - `last i/N`: the N newest complete backups.
 * - `daily i/N`, `weekly i/N`, `monthly i/N`, `yearly i/N`: going from newest to oldest, a backup is
 *   kept when its UTC day (ISO week, month, year) differs from that of the previously kept one in
 *   the same rule, until N periods are kept; periods without a backup do not count. As restic ≥ 0.17
 *   does, when a rule still has periods left at the oldest complete backup, that backup is kept too
 *   (reason `daily i/N (oldest)`), so a short history is kept whole.
 * - `within <d>`: every complete backup with time > now − d (a backup exactly d old is not kept).
 * - `label <l> within <d>`: complete backups labelled l with time > now − d. Labelled backups are
 *   subject to all the other rules too (a pre-migration backup can be a day's newest backup).
 * - `last good before anomalous <key>`: when the newest complete backups are anomalous (keys in
 *   `anomalous`: a table vanished or lost rows against the backup before it), the newest complete
 *   backup that is not is kept too, until a later normal backup. Anomalous backups count for every
 *   other rule as usual: an anomaly is never the reason an older good backup is deleted.
 * - Archives without a manifest (interrupted runs) never count for the rules. One is deleted when
 *   its time is before the oldest kept complete backup (`incomplete (no manifest), older than the
 *   oldest kept backup`), else kept (`incomplete (no manifest), not older than the oldest kept
 *   backup`): it may be a backup still being written.
 *
 * Same-second backups are ordered by key ({@link newestFirst}), so the plan is deterministic.
 *
 * @param backups one database's backups in one destination, in any order (e.g. `readCatalog().backups`).
 * @param policy as parsed by parseRetentionInputs; an empty policy keeps only the newest complete backup.
 * @param anomalous archive keys of complete backups found anomalous (see retention/anomaly.ts).
 * @returns kept and deleted backups, newest first, and warnings.
 */
export function planRetention(
  backups: BackupEntry[],
  policy: RetentionPolicy,
  now: Date,
  anomalous: ReadonlySet<string> = new Set(),
): RetentionPlan {
  const sorted = [...backups].sort(newestFirst);
  const nowMs = now.getTime();
  const reasons = new Map<string, string[]>();
  const keep = (backup: BackupEntry, reason: string): void => {
    const list = reasons.get(backup.key);
    if (list) list.push(reason);
    else reasons.set(backup.key, [reason]);
  };
  const warnings: string[] = [];

  const isFuture = (b: BackupEntry): boolean => b.time.getTime() > nowMs + CLOCK_SKEW_SECONDS * 1000;
  for (const backup of sorted) {
    if (!isFuture(backup)) continue;
    keep(backup, 'from the future');
    warnings.push(
      `${backup.key} is dated ${backup.time.toISOString()}, ${describeAhead(backup.time.getTime() - nowMs)} after now (${now.toISOString()}); it is kept and left out of the retention rules. Check the clock of this runner and of the machine that wrote it.`,
    );
  }

  const complete = sorted.filter((b) => b.hasManifest && !isFuture(b));
  if (complete[0]) keep(complete[0], 'newest complete');

  if (policy.last !== undefined) {
    complete.slice(0, policy.last).forEach((backup, i) => keep(backup, `last ${i + 1}/${policy.last}`));
  }

  for (const bucket of BUCKETS) {
    const count = policy[bucket];
    if (count === undefined || count <= 0) continue;
    let used = 0;
    let previous: string | undefined;
    complete.forEach((backup, i) => {
      if (used >= count) return;
      const period = bucketOf(bucket, backup.time);
      const oldest = i === complete.length - 1;
      if (period !== previous) {
        used += 1;
        previous = period;
        keep(backup, `${bucket} ${used}/${count}`);
      } else if (oldest) {
        used += 1;
        keep(backup, `${bucket} ${used}/${count} (oldest)`);
      }
    });
  }

  if (policy.within) {
    const cutoff = nowMs - policy.within.seconds * 1000;
    for (const backup of complete) if (backup.time.getTime() > cutoff) keep(backup, `within ${policy.within.text}`);
  }

  for (const rule of policy.labels) {
    const cutoff = nowMs - rule.within.seconds * 1000;
    for (const backup of complete) {
      if (backup.label === rule.label && backup.time.getTime() > cutoff)
        keep(backup, `label ${rule.label} within ${rule.within.text}`);
    }
  }

  const streak = complete.findIndex((b) => !anomalous.has(b.key));
  const good = streak > 0 ? complete[streak] : undefined;
  if (good) keep(good, `last good before anomalous ${(complete[0] as BackupEntry).key}`);

  let oldestKeptMs: number | undefined;
  for (const backup of sorted) if (backup.hasManifest && reasons.has(backup.key)) oldestKeptMs = backup.time.getTime();

  const kept: KeptBackup[] = [];
  const deleted: DeletedBackup[] = [];
  for (const backup of sorted) {
    if (!backup.hasManifest && !isFuture(backup)) {
      if (oldestKeptMs !== undefined && backup.time.getTime() < oldestKeptMs) {
        deleted.push({ backup, why: 'incomplete (no manifest), older than the oldest kept backup' });
      } else {
        kept.push({ backup, reasons: ['incomplete (no manifest), not older than the oldest kept backup'] });
      }
      continue;
    }
    const why = reasons.get(backup.key);
    if (why) kept.push({ backup, reasons: why });
    else deleted.push({ backup, why: 'no rule keeps it' });
  }
  return { now, policy, kept, deleted, warnings };
}

function describeAhead(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

/** `[key, time ISO, reasons joined]` per kept backup, in the given order. */
export function keptRows(kept: KeptBackup[]): [string, string, string][] {
  return kept.map((k) => [k.backup.key, k.backup.time.toISOString(), k.reasons.join(', ')]);
}

/** `[key, time ISO, why]` per deleted backup, in the given order. */
export function deletedRows(deleted: DeletedBackup[]): [string, string, string][] {
  return deleted.map((d) => [d.backup.key, d.backup.time.toISOString(), d.why]);
}

/** keep/delete and the reasons of each backup in a plan, by archive key. */
export function verdictsOf(plan: RetentionPlan): Map<string, { action: 'keep' | 'delete'; reasons: string[] }> {
  const map = new Map<string, { action: 'keep' | 'delete'; reasons: string[] }>();
  for (const k of plan.kept) map.set(k.backup.key, { action: 'keep', reasons: k.reasons });
  for (const d of plan.deleted) map.set(d.backup.key, { action: 'delete', reasons: [d.why] });
  return map;
}
