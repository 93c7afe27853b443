/**
 * Settings of failure reporting: a GitHub issue on failure (deduplicated, closed on recovery) and a
 * webhook alert. The inputs are parsed by config/reporting.ts.
 */

/** When the webhook is called. `failure` also sends the all-clear when an open failure issue is closed. */
export const NOTIFY_ON = ['failure', 'always', 'never'] as const;
export type NotifyOn = (typeof NOTIFY_ON)[number];

/** Most consecutive failures `failure-threshold` may ask for (the run history is read in one page). */
export const MAX_FAILURE_THRESHOLD = 50;

/** Typed reporting inputs. Built by parseReportingInputs (config/reporting.ts). */
export interface ReportingConfig {
  /** Token for the GitHub REST API; '' = none (issue reporting is skipped with a warning at report time). */
  githubToken: string;
  /** Open/comment/close an issue (`issue-on-failure`). */
  issueOnFailure: boolean;
  /** Labels set on the issue and used to find it again; may be empty (then every open issue is scanned). */
  issueLabels: string[];
  /** Logins assigned to a new issue (without `@`); at most 10. */
  issueAssignees: string[];
  /** Consecutive failed runs of this job before the issue is opened; 1–{@link MAX_FAILURE_THRESHOLD}. */
  failureThreshold: number;
  /** Comment "Recovered" and close the open issue after a successful run. */
  closeIssueOnSuccess: boolean;
  /** Incoming-webhook URL (a secret); '' = no webhook. https, or http for localhost/127.0.0.1/::1 only. */
  webhookUrl: string;
  notifyOn: NotifyOn;
}

/** True when a failure report would reach anyone (an issue with a token, or a webhook). Pure. */
export function wantsReport(reporting: ReportingConfig): boolean {
  return (
    (reporting.issueOnFailure && reporting.githubToken !== '') ||
    (reporting.webhookUrl !== '' && reporting.notifyOn !== 'never')
  );
}
