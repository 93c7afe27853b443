/**
 * `failure-threshold`: how many runs of this job failed in a row before this one, read from the
 * Actions API when no failure issue is open yet and the threshold is above 1.
 *
 * Endpoints (GitHub REST API docs, "Actions" section): Workflow runs › List workflow runs for a
 * workflow: `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs`, and Workflow jobs ›
 * List jobs for a workflow run (attempt):
 * `GET /repos/{owner}/{repo}/actions/runs/{run_id}[/attempts/{attempt_number}]/jobs`.
 */
import { ApiStep, type GitHubClient, type GitHubContext } from './issue-client.js';
import type { ReportLog } from './webhook.js';

/** What reading earlier runs needs: the client, this run, where warnings go, the threshold (for them). */
export interface RunsReader {
  client: GitHubClient;
  gh: GitHubContext;
  log: ReportLog;
  failureThreshold: number;
}

/**
 * Failed runs of this job right before this one, up to `needed` (undefined when they cannot be
 * read; a warning says why). Reads the workflow's completed runs on this branch, newest first (one
 * page of needed + 10). A run whose conclusion is `success` ends the streak; a failed run counts
 * when this job failed in it (found by name among the run's jobs; when this job's name cannot be
 * told, every failed run counts); cancelled and skipped runs, and runs without this job, are passed over.
 */
export async function countConsecutiveFailures(runs: RunsReader, needed: number): Promise<number | undefined> {
  const { client, gh, log } = runs;
  const { owner, repo, workflowFile, runId } = gh;
  if (!workflowFile || runId === '') {
    log.warning(
      'Cannot count earlier failed runs (GITHUB_WORKFLOW_REF or GITHUB_RUN_ID unset): opening the issue now.',
    );
    return undefined;
  }
  try {
    const jobName = await currentJobName(runs);
    const listed = await client.step("list this workflow's runs", 'actions: read', () =>
      client.octokit.rest.actions.listWorkflowRuns({
        owner,
        repo,
        workflow_id: workflowFile,
        status: 'completed',
        ...(gh.branch ? { branch: gh.branch } : {}),
        per_page: Math.min(100, needed + 10),
      }),
    );
    let count = 0;
    for (const run of listed.data.workflow_runs) {
      if (count >= needed) break;
      if (String(run.id) === runId) continue;
      if (run.conclusion === 'success') break;
      if (run.conclusion !== 'failure' && run.conclusion !== 'timed_out' && run.conclusion !== 'startup_failure')
        continue;
      if (jobName === undefined) {
        count++;
        continue;
      }
      const jobs = await client.step('list the jobs of an earlier run', 'actions: read', () =>
        client.octokit.rest.actions.listJobsForWorkflowRun({
          owner,
          repo,
          run_id: run.id,
          filter: 'latest',
          per_page: 100,
        }),
      );
      const job = jobs.data.jobs.find((j) => j.name === jobName);
      if (!job) continue;
      if (job.conclusion === 'success') break;
      if (job.conclusion === 'failure' || job.conclusion === 'timed_out') count++;
    }
    return count;
  } catch (error) {
    if (error instanceof ApiStep && error.permission === 'actions: read') {
      log.warning(
        `Cannot count earlier failed runs for failure-threshold ${runs.failureThreshold}: ${client.describe(error)} Opening the issue now; add \`permissions: actions: read\` to the job to use the threshold.`,
      );
      return undefined;
    }
    throw error;
  }
}

/** This job's display name (matrix values included), found as the in-progress job on this runner. */
async function currentJobName(runs: RunsReader): Promise<string | undefined> {
  const { client, gh } = runs;
  const { owner, repo, runId, runAttempt, runnerName } = gh;
  if (!runnerName) return undefined;
  const jobs = await client.step("list this run's jobs", 'actions: read', () =>
    client.octokit.rest.actions.listJobsForWorkflowRunAttempt({
      owner,
      repo,
      run_id: Number(runId),
      attempt_number: runAttempt,
      per_page: 100,
    }),
  );
  const mine = jobs.data.jobs.filter((j) => j.status === 'in_progress' && j.runner_name === runnerName);
  return mine.length === 1 ? mine[0]?.name : undefined;
}
