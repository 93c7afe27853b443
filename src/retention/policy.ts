/**
 * Retention inputs: `keep-last`, `keep-daily`, `keep-weekly`, `keep-monthly`, `keep-yearly`,
 * `keep-within`, `keep-label`, `prune`, `prune-dry-run`, parsed into a {@link RetentionPolicy} by
 * config/retention.ts.
 *
 * The rules follow restic's `forget` policy (https://restic.readthedocs.io/en/stable/060_forget.html),
 * with UTC calendar buckets and `keep-within` measured from now (restic measures from the newest
 * snapshot); see planRetention in ./plan.ts and docs/retention.md.
 */

/** A duration as the user wrote it (`30d`) and its length in seconds. */
export interface Duration {
  /** Length in seconds (h = 3600, d = 86,400, w = 7 d, y = 365 d). */
  seconds: number;
  /** The input text, e.g. `30d` or `1y6w`; used in reasons (`within 30d`). */
  text: string;
}

/** `<label>=<duration>` from `keep-label`: backups with that label are kept while younger than `within`. */
export interface LabelRule {
  label: string;
  within: Duration;
}

/**
 * What to keep. Counts are whole numbers ≥ 1 (a 0 or empty input leaves the rule out). Only
 * complete backups (with a manifest) count; the newest complete backup is always kept.
 */
export interface RetentionPolicy {
  /** Keep the N newest complete backups. */
  last?: number;
  /** Keep the newest backup of each of the N newest UTC days that have a backup. */
  daily?: number;
  /** … of each of the N newest ISO weeks (Monday to Sunday, UTC). */
  weekly?: number;
  /** … of each of the N newest UTC calendar months. */
  monthly?: number;
  /** … of each of the N newest UTC calendar years. */
  yearly?: number;
  /** Keep every complete backup newer than now − within. */
  within?: Duration;
  /** Per-label rules, in input order; labelled backups are subject to the other rules too. */
  labels: LabelRule[];
}

/** What parseRetentionInputs (config/retention.ts) returns. */
export interface RetentionInputs {
  /** Undefined when no keep-* input is set (retention off). */
  policy?: RetentionPolicy | undefined;
  /** Delete what the policy does not keep (after a backup, and for `command: prune`). */
  prune: boolean;
  /** Plan and report only; delete nothing. */
  dryRun: boolean;
}

/** The count rules, in the order reports list them. */
const COUNT_FIELDS = ['last', 'daily', 'weekly', 'monthly', 'yearly'] as const;

/** One line for logs and summaries, e.g. `last 14, daily 7, weekly 4, within 30d, label pre-migration within 90d`. */
export function describePolicy(policy: RetentionPolicy): string {
  const parts: string[] = [];
  for (const field of COUNT_FIELDS) if (policy[field] !== undefined) parts.push(`${field} ${policy[field]}`);
  if (policy.within) parts.push(`within ${policy.within.text}`);
  for (const rule of policy.labels) parts.push(`label ${rule.label} within ${rule.within.text}`);
  return parts.join(', ');
}
