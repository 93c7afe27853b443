/**
 * The starter workflows (workflows-templates), the reusable workflows (.github/workflows) and CI's
 * end-to-end job, run here: a small workflow runner parses each YAML, resolves every `${{ }}` (with
 * test values for secrets, declared input defaults, `needs.*.outputs.*` of jobs run before, runner,
 * github, services), runs the jobs in `needs` order, expands calls of the reusable workflows, and
 * runs every step that uses this action (`postgres-backup-action/postgres-backup-action@v1` or
 * `./`) through the built bundle (runAction) against a local PostgreSQL cluster and S3 server.
 * A `services: postgres` container is a second local cluster (its POSTGRES_PASSWORD applied).
 * Anything that does not resolve (a misspelt input, secret, step or job output) fails the test;
 * runAction refuses inputs that action.yml does not declare.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import * as openpgp from 'openpgp';
import { parse } from 'yaml';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { actionYaml, parseOutputFile, runAction } from '../support/action-runner.js';
import { FakeGitHub } from '../support/fake-github.js';
import { loadSampleDb, pgBinDir, repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';
import { startS3Server, testS3Settings, type S3Server } from '../support/s3-server.js';
import { condition, interpolate, evaluate, scalarText, type Context, type Value } from '../support/workflow-context.js';

type Dict = Record<string, unknown>;

const PUBLISHED = 'postgres-backup-action/postgres-backup-action';

// ---------------------------------------------------------------------------------------------
// A small workflow runner (only what these workflows use).

interface StepRecord {
  workflow: string;
  job: string;
  step: string;
  /** action: ran dist/index.js; run: ran the script; skipped: its if: was false; not-run: a third-party action or a script this test does not run. */
  kind: 'action' | 'run' | 'skipped' | 'not-run';
  inputs?: Record<string, string>;
  env?: Record<string, string>;
  exitCode?: number | null;
  outputs?: Record<string, string>;
  log?: string;
}

interface JobResult {
  result: 'success' | 'failure' | 'skipped';
  outputs: Record<string, string>;
}

interface WorkflowResult {
  name: string;
  result: 'success' | 'failure';
  jobs: Record<string, JobResult>;
  /** on.workflow_call.outputs, for a called workflow. */
  outputs: Record<string, string>;
}

interface ServiceSpec {
  image: string;
  env: Record<string, string>;
  ports: string[];
}

interface RunnerOptions {
  /** Repository secrets (a top-level workflow reads only these; a typo is an error). */
  secrets: Record<string, string>;
  github: { token: string; apiUrl: string };
  /** Starts (stands in for) a service container; returns the host port of each container port. */
  service(job: string, name: string, spec: ServiceSpec): Promise<Record<string, string>>;
  /** Which `run:` steps to execute (default: none; their env is resolved all the same). */
  runScripts?: (job: string, step: Dict) => boolean;
  /** Matrix values to use (default: the first value of each key). */
  matrix?: Record<string, Value>;
}

class WorkflowRunner {
  readonly steps: StepRecord[] = [];
  readonly images: string[] = [];
  private runId = 9000;

  constructor(
    private readonly options: RunnerOptions,
    private readonly temp: string,
  ) {}

  /** Runs a workflow file (repo-relative) for an event; a called workflow gets inputs and secrets. */
  async run(
    file: string,
    event: {
      name: string;
      inputs?: Record<string, Value>;
      /** A called workflow: the secrets passed; a top-level one: replaces the repository secrets. */
      secrets?: Record<string, string>;
      callerName?: string;
    },
  ): Promise<WorkflowResult> {
    const doc = parse(readFileSync(path.join(repoRoot(), file), 'utf8')) as Dict;
    const name = scalarText(doc['name'] ?? file);
    const workflowName = event.callerName ?? name;
    const on = (doc['on'] ?? {}) as Dict;
    const called = event.name === 'workflow_call';
    const runId = String(this.runId++);

    // inputs: the declared inputs of the trigger, with their defaults (null for an event without inputs).
    const declared = ((called
      ? (on['workflow_call'] as Dict | undefined)?.['inputs']
      : (on['workflow_dispatch'] as Dict | null | undefined)?.['inputs']) ?? {}) as Record<string, Dict>;
    const given = event.inputs ?? {};
    for (const k of Object.keys(given)) if (!(k in declared)) throw new Error(`${file}: input '${k}' is not declared`);
    const inputs: Record<string, Value> = {};
    for (const [k, spec] of Object.entries(declared)) {
      if (called || event.name === 'workflow_dispatch') {
        if (spec['required'] === true && !(k in given)) throw new Error(`${file}: required input '${k}' not given`);
        inputs[k] = typed(
          file,
          k,
          scalarText(spec['type'] ?? 'string'),
          k in given ? (given[k] as Value) : ((spec['default'] as Value | undefined) ?? null),
        );
      } else {
        inputs[k] = null;
      }
    }

    // secrets: a called workflow sees exactly its declared secrets.
    let secrets: Record<string, Value>;
    if (called) {
      const declaredSecrets = ((on['workflow_call'] as Dict)['secrets'] ?? {}) as Record<string, Dict>;
      const passed = event.secrets ?? {};
      for (const k of Object.keys(passed))
        if (!(k in declaredSecrets)) throw new Error(`${file}: secret '${k}' is not declared`);
      secrets = {};
      for (const [k, spec] of Object.entries(declaredSecrets)) {
        if (spec['required'] === true && !passed[k]) throw new Error(`${file}: required secret '${k}' not passed`);
        secrets[k] = passed[k] ?? '';
      }
    } else {
      secrets = { ...(event.secrets ?? this.options.secrets) };
    }
    secrets['GITHUB_TOKEN'] = this.options.github.token;

    const base: Context = {
      github: {
        token: this.options.github.token,
        repository: 'acme/shop',
        repository_owner: 'acme',
        workflow: workflowName,
        event_name: event.name,
        ref: 'refs/heads/main',
        ref_name: 'main',
        run_id: runId,
        run_attempt: '1',
        server_url: 'https://github.example',
        api_url: this.options.github.apiUrl,
        workspace: repoRoot(),
        sha: '0'.repeat(40),
        actor: 'octocat',
      },
      runner: { temp: this.temp, os: 'Linux', arch: 'X64', name: 'local' },
      inputs,
      secrets,
      vars: {},
      env: {},
    };

    const jobs = (doc['jobs'] ?? {}) as Record<string, Dict>;
    const results: Record<string, JobResult> = {};
    for (const id of jobOrder(jobs)) {
      const job = jobs[id] as Dict;
      const needs = toList(job['needs']);
      const needsCtx: Record<string, Value> = {};
      for (const n of needs)
        needsCtx[n] = { result: results[n]?.result ?? 'skipped', outputs: results[n]?.outputs ?? {} };
      const upstreamFailed = needs.some((n) => results[n]?.result !== 'success');
      const matrix = this.matrixOf(job);
      const ctx: Context = {
        ...base,
        needs: needsCtx,
        matrix,
        strategy: { 'fail-fast': true, 'job-index': 0, 'job-total': 1 },
      };
      if (!condition(job['if'], ctx, { failed: upstreamFailed })) {
        results[id] = { result: 'skipped', outputs: declaredJobOutputs(job) };
        continue;
      }
      if (typeof job['uses'] === 'string') {
        results[id] = await this.callReusable(file, id, job, ctx, workflowName);
      } else {
        results[id] = await this.runJob(file, id, job, ctx, { workflow: workflowName, runId });
      }
    }

    const outputs: Record<string, string> = {};
    if (called) {
      const declaredOutputs = ((on['workflow_call'] as Dict)['outputs'] ?? {}) as Record<string, Dict>;
      const jobsCtx: Record<string, Value> = {};
      for (const [id, r] of Object.entries(results)) jobsCtx[id] = { result: r.result, outputs: r.outputs };
      for (const [k, spec] of Object.entries(declaredOutputs))
        outputs[k] = interpolate(spec['value'], { ...base, jobs: jobsCtx });
    }
    const failed = Object.values(results).some((r) => r.result === 'failure');
    return { name, result: failed ? 'failure' : 'success', jobs: results, outputs };
  }

  private matrixOf(job: Dict): Record<string, Value> {
    const matrix = (job['strategy'] as Dict | undefined)?.['matrix'] as Record<string, Value[]> | undefined;
    if (!matrix) return {};
    const out: Record<string, Value> = {};
    for (const [k, values] of Object.entries(matrix)) out[k] = this.options.matrix?.[k] ?? (values[0] as Value);
    return out;
  }

  private async callReusable(
    file: string,
    id: string,
    job: Dict,
    ctx: Context,
    workflowName: string,
  ): Promise<JobResult> {
    const uses = job['uses'] as string;
    const m = new RegExp(`^(?:${PUBLISHED}/|\\./)(\\.github/workflows/[^@]+\\.yml)(?:@v1)?$`).exec(uses);
    if (!m) throw new Error(`${file} job ${id}: calls ${uses}, not a reusable workflow of this repository at @v1`);
    const inputs: Record<string, Value> = {};
    for (const [k, v] of Object.entries((job['with'] ?? {}) as Dict)) inputs[k] = resolveValue(v, ctx);
    const secrets: Record<string, string> = {};
    if (job['secrets'] === 'inherit')
      throw new Error(`${file} job ${id}: secrets: inherit (pass each secret explicitly)`);
    for (const [k, v] of Object.entries((job['secrets'] ?? {}) as Dict)) secrets[k] = interpolate(v, ctx);
    const result = await this.run(m[1] as string, { name: 'workflow_call', inputs, secrets, callerName: workflowName });
    return { result: result.result, outputs: result.outputs };
  }

  private async runJob(
    file: string,
    id: string,
    job: Dict,
    ctx: Context,
    meta: { workflow: string; runId: string },
  ): Promise<JobResult> {
    // Job-level expressions must resolve too.
    for (const key of ['runs-on', 'timeout-minutes', 'name']) if (job[key] !== undefined) interpolate(job[key], ctx);

    const services: Record<string, Value> = {};
    for (const [name, spec] of Object.entries((job['services'] ?? {}) as Record<string, Dict>)) {
      const image = interpolate(spec['image'], ctx);
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries((spec['env'] ?? {}) as Dict)) env[k] = interpolate(v, ctx);
      const ports = toList(spec['ports']).map((p) => interpolate(p, ctx));
      this.images.push(image);
      const mapped = await this.options.service(id, name, { image, env, ports });
      services[name] = { id: `container-${name}`, network: 'github_network', ports: mapped };
    }
    const jobCtx: Context = { ...ctx, job: { status: 'success', services }, steps: {} };
    const stepsCtx = jobCtx['steps'] as Record<string, Value>;
    const status = { failed: false };
    const steps = (job['steps'] ?? []) as Dict[];
    for (const [index, step] of steps.entries()) {
      const stepName = scalarText(step['name'] ?? step['id'] ?? step['uses'] ?? `step ${index + 1}`);
      const record: StepRecord = { workflow: file, job: id, step: stepName, kind: 'not-run' };
      this.steps.push(record);
      const stepId = typeof step['id'] === 'string' ? step['id'] : undefined;
      const ownAction =
        typeof step['uses'] === 'string' && (step['uses'] === './' || step['uses'] === `${PUBLISHED}@v1`);
      // An output the action declares but did not set (a failed or skipped step) reads as ''.
      const unset: Record<string, string> = ownAction
        ? Object.fromEntries(Object.keys(actionYaml().outputs).map((k) => [k, '']))
        : {};
      if (!condition(step['if'], jobCtx, status)) {
        record.kind = 'skipped';
        if (stepId) stepsCtx[stepId] = { outputs: unset, outcome: 'skipped', conclusion: 'skipped' };
        continue;
      }
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries((step['env'] ?? {}) as Dict)) env[k] = interpolate(v, jobCtx);
      record.env = env;
      const withValues: Record<string, string> = {};
      for (const [k, v] of Object.entries((step['with'] ?? {}) as Dict)) withValues[k] = interpolate(v, jobCtx);
      let outputs: Record<string, string> = {};
      let ok = true;
      if (ownAction) {
        // Inputs the step leaves out whose action.yml default is an expression: the runner evaluates it.
        for (const [k, spec] of Object.entries(actionYaml().inputs)) {
          if (!(k in withValues) && String(spec.default ?? '').includes('${{'))
            withValues[k] = interpolate(spec.default, jobCtx);
        }
        for (const [k, v] of Object.entries(withValues))
          if (v.includes('${{')) throw new Error(`${file} ${id}/${stepName}: '${k}' did not resolve: ${v}`);
        const run = await runAction({
          inputs: withValues,
          env: {
            GITHUB_API_URL: this.options.github.apiUrl,
            GITHUB_SERVER_URL: 'https://github.example',
            GITHUB_REPOSITORY: 'acme/shop',
            GITHUB_WORKFLOW: meta.workflow,
            GITHUB_JOB: id,
            GITHUB_RUN_ID: meta.runId,
            GITHUB_RUN_ATTEMPT: '1',
            GITHUB_REF_NAME: 'main',
            ...env,
          },
        });
        Object.assign(record, {
          kind: 'action',
          inputs: withValues,
          exitCode: run.exitCode,
          outputs: run.outputs,
          log: run.stdout + run.stderr,
        });
        outputs = { ...unset, ...run.outputs };
        ok = run.exitCode === 0;
      } else if (typeof step['run'] === 'string' && (this.options.runScripts?.(id, step) ?? false)) {
        const result = await runScript(step['run'], env, this.temp);
        Object.assign(record, { kind: 'run', exitCode: result.exitCode, outputs: result.outputs, log: result.log });
        outputs = result.outputs;
        ok = result.exitCode === 0;
      }
      if (stepId)
        stepsCtx[stepId] = { outputs, outcome: ok ? 'success' : 'failure', conclusion: ok ? 'success' : 'failure' };
      if (!ok && step['continue-on-error'] !== true) status.failed = true;
    }
    const jobOutputs: Record<string, string> = {};
    for (const [k, v] of Object.entries((job['outputs'] ?? {}) as Dict)) jobOutputs[k] = interpolate(v, jobCtx);
    return { result: status.failed ? 'failure' : 'success', outputs: jobOutputs };
  }
}

/** The outputs a job declares (for a call: the called workflow's), all '' (a skipped job's). */
function declaredJobOutputs(job: Dict): Record<string, string> {
  let names = Object.keys(job['outputs'] ?? {});
  const m = typeof job['uses'] === 'string' ? /(\.github\/workflows\/[^@]+\.yml)/.exec(job['uses']) : null;
  if (m) {
    const callee = parse(readFileSync(path.join(repoRoot(), m[1] as string), 'utf8')) as Dict;
    names = Object.keys(((callee['on'] as Dict)['workflow_call'] as Dict)['outputs'] ?? {});
  }
  return Object.fromEntries(names.map((k) => [k, '']));
}

function toList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.map(scalarText) : [scalarText(value)];
}

/** Jobs in an order where every job comes after the jobs it needs. */
function jobOrder(jobs: Record<string, Dict>): string[] {
  const order: string[] = [];
  const visit = (id: string, trail: string[]) => {
    if (order.includes(id)) return;
    if (trail.includes(id)) throw new Error(`needs cycle: ${[...trail, id].join(' → ')}`);
    if (!(id in jobs)) throw new Error(`needs an unknown job '${id}'`);
    for (const n of toList(jobs[id]?.['needs'])) visit(n, [...trail, id]);
    order.push(id);
  };
  for (const id of Object.keys(jobs)) visit(id, []);
  return order;
}

/** A `with:` value of a reusable-workflow call: one whole expression keeps its type. */
function resolveValue(value: unknown, ctx: Context): Value {
  if (typeof value !== 'string') return (value ?? null) as Value;
  const whole = /^\s*\$\{\{([\s\S]*?)\}\}\s*$/.exec(value);
  if (whole && !(whole[1] as string).includes('}}')) return evaluate((whole[1] as string).trim(), ctx);
  return interpolate(value, ctx);
}

/** An input value as its declared type (GitHub refuses a value of the wrong type). */
function typed(file: string, name: string, type: string, value: Value): Value {
  if (type === 'boolean') {
    if (value === null) return false;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new Error(`${file}: input '${name}' is boolean, got ${JSON.stringify(value)}`);
  }
  if (type === 'number') {
    if (value === null) return 0;
    const n = Number(value);
    if (typeof value === 'boolean' || Number.isNaN(n))
      throw new Error(`${file}: input '${name}' is a number, got ${JSON.stringify(value)}`);
    return n;
  }
  return value === null ? '' : scalarText(value);
}

/** Runs a `run:` script as the runner's bash does (`bash --noprofile --norc -eo pipefail`). */
async function runScript(
  script: string,
  env: Record<string, string>,
  temp: string,
): Promise<{ exitCode: number | null; outputs: Record<string, string>; log: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wf-step-'));
  try {
    const file = path.join(dir, 'script.sh');
    const outputFile = path.join(dir, 'output');
    writeFileSync(file, script);
    writeFileSync(outputFile, '');
    const fullEnv = {
      PATH: `${pgBinDir()}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? dir,
      GITHUB_OUTPUT: outputFile,
      RUNNER_TEMP: temp,
      GITHUB_WORKSPACE: repoRoot(),
      ...env,
    };
    return await new Promise((resolve) => {
      execFile(
        'bash',
        ['--noprofile', '--norc', '-eo', 'pipefail', file],
        { env: fullEnv, cwd: repoRoot(), timeout: 60_000 },
        (error, stdout, stderr) => {
          const code = error
            ? typeof (error as { code?: unknown }).code === 'number'
              ? (error as { code: number }).code
              : 1
            : 0;
          resolve({
            exitCode: code,
            outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
            log: `${stdout}${stderr}`,
          });
        },
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Servers: the "production" cluster (database app = the sample shop), a cluster standing in for service
// containers, the S3 server, a fake GitHub API and a webhook receiver.

let prod: Cluster;
let service: Cluster;
let s3: S3Server;
let github: FakeGitHub;
let hook: Server;
const hookBodies: Dict[] = [];
/** Heartbeat pings (HEARTBEAT_URL = <receiver>/beat): path and body, in order. */
const beats: { path: string; body: string }[] = [];
let work: string;
let keys: { publicKey: string; privateKey: string };
let runner: WorkflowRunner;
let secrets: Record<string, string>;

async function startWebhook(): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (req.url?.startsWith('/beat')) beats.push({ path: req.url, body });
      else hookBodies.push(JSON.parse(body) as Dict);
      res.statusCode = 200;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'workflows-it-'));
  let generated: { publicKey: string; privateKey: string };
  [prod, service, s3, github, hook, generated] = await Promise.all([
    startCluster(),
    startCluster(),
    startS3Server(),
    FakeGitHub.start({ token: 'ghs_workflow_test_token' }),
    startWebhook(),
    openpgp.generateKey({ userIDs: [{ name: 'Backup drill', email: 'drill@example.com' }], format: 'armored' }),
  ]);
  keys = generated;
  await loadSampleDb(prod, 'app');
  // The shop grants SELECT to role shop_reader, and roles live in the cluster, not in the archive:
  // the drill server has the application's roles, as a real one needs them (or restore-globals).
  await service.psql('postgres', 'CREATE ROLE shop_reader NOLOGIN');
  await s3.createBucket('my-backups');
  secrets = {
    DATABASE_URL: prod.url('app'),
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    HEARTBEAT_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/beat`,
    BACKUP_PUBLIC_KEY: keys.publicKey,
    BACKUP_PRIVATE_KEY: keys.privateKey,
    BACKUP_PRIVATE_KEY_PASSPHRASE: '',
  };
  runner = new WorkflowRunner(
    {
      secrets,
      github: { token: 'ghs_workflow_test_token', apiUrl: github.url },
      async service(_job, name, spec) {
        if (name !== 'postgres' || !/^postgres:\d+$/.test(spec.image))
          throw new Error(`service ${name}: ${spec.image} is not a postgres:<major> image`);
        const password = spec.env['POSTGRES_PASSWORD'];
        if (!password) throw new Error('a postgres service container needs POSTGRES_PASSWORD');
        await service.setPassword('postgres', password);
        if (spec.env['POSTGRES_DB']) await service.createDatabase(spec.env['POSTGRES_DB']);
        expect(spec.ports).toEqual(['5432/tcp']);
        return { '5432': String(service.port) };
      },
      runScripts: (job) => job === 'e2e' || job === 'backup',
      matrix: { postgres: '15' },
    },
    work,
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([
    prod?.stop(),
    service?.stop(),
    s3?.stop(),
    github?.stop(),
    new Promise((r) => (hook ? hook.close(r) : r(undefined))),
  ]);
  rmSync(work, { recursive: true, force: true });
});

async function bucketKeys(prefix: string): Promise<string[]> {
  const client = new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
  const listed = await client.send(new ListObjectsV2Command({ Bucket: 'my-backups', Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key as string);
}

const actionSteps = (file: string) => runner.steps.filter((s) => s.workflow === file && s.kind === 'action');

function explain(result: WorkflowResult): string {
  return JSON.stringify(
    {
      result,
      steps: runner.steps
        .filter((s) => s.exitCode !== 0 && s.exitCode !== undefined)
        .map((s) => ({
          ...s,
          inputs: undefined,
          log: s.log
            ?.split('\n')
            .filter((l) => l.startsWith('::error'))
            .join('\n'),
        })),
    },
    null,
    1,
  );
}

// ---------------------------------------------------------------------------------------------

describe('starter workflows through the reusable workflows, run against local servers', () => {
  test('daily backup (schedule: label daily; dispatch: the label input) with retention and encryption', async () => {
    const pinged = beats.length;
    const scheduled = await runner.run('workflows-templates/postgres-daily-backup.yml', { name: 'schedule' });
    expect(scheduled.result).toBe('success');
    // The template's HEARTBEAT_URL reaches the backup step: one start and one success ping.
    expect(beats.slice(pinged).map((b) => b.path)).toEqual(['/beat/start', '/beat']);
    const [step] = actionSteps('.github/workflows/backup.yml');
    expect(step?.exitCode).toBe(0);
    expect(step?.inputs).toMatchObject({
      command: 'backup',
      destination: 's3://my-backups/prod',
      label: 'daily',
      's3-endpoint': s3.endpoint,
      'keep-daily': '7',
      'keep-weekly': '5',
      'keep-monthly': '12',
      'keep-label': 'pre-migration=90d',
      'encryption-public-key': keys.publicKey,
      'github-token': 'ghs_workflow_test_token',
    });
    const key = scheduled.jobs['backup']?.outputs['backup-key'] as string;
    expect(key).toMatch(/^prod\/app\/\d{4}-\d{2}-\d{2}T\d{6}Z-daily\.dump(\.zst)?\.gpg$/);
    expect(await bucketKeys('prod/app/')).toEqual(expect.arrayContaining([key, `${key}.manifest.json`]));

    const dispatched = await runner.run('workflows-templates/postgres-daily-backup.yml', { name: 'workflow_dispatch' });
    expect(dispatched.result).toBe('success');
    expect(dispatched.jobs['backup']?.outputs['backup-key']).toMatch(/-manual\.dump/);
    const labelled = await runner.run('workflows-templates/postgres-daily-backup.yml', {
      name: 'workflow_dispatch',
      inputs: { label: 'before-upgrade' },
    });
    expect(labelled.jobs['backup']?.outputs['backup-key']).toMatch(/-before-upgrade\.dump/);
    expect(labelled.jobs['backup']?.outputs['pruned-count']).toMatch(/^\d+$/); // GFS: same-day backups may be pruned
    expect(github.writes).toEqual([]);
  }, 120_000);

  test('deploy with a pre-migration backup: a failed backup skips migrate and opens an issue; then backup, check, migrate gets the key', async () => {
    const file = 'workflows-templates/postgres-pre-migration.yml';
    const failed = await runner.run(file, {
      name: 'push',
      secrets: { ...secrets, DATABASE_URL: prod.url('app', 'postgres', 'wrong-password') },
    });
    expect(failed.result).toBe('failure');
    expect(failed.jobs['backup']?.result).toBe('failure');
    expect(failed.jobs['migrate']?.result).toBe('skipped');
    expect(github.issues).toHaveLength(1);
    expect(github.issues[0]).toMatchObject({
      state: 'open',
      labels: ['backup-failure'],
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
      title: expect.stringContaining('app'),
    });
    expect(hookBodies.some((b) => b['event'] === 'failure' && b['database'] === 'app')).toBe(true);

    const before = runner.steps.length;
    const ok = await runner.run(file, { name: 'push' });
    expect(ok.result).toBe('success');
    const key = ok.jobs['backup']?.outputs['backup-key'] as string;
    expect(key).toMatch(/^prod\/app\/\d{4}-\d{2}-\d{2}T\d{6}Z-pre-migration\.dump(\.zst)?\.gpg$/);
    const steps = runner.steps.slice(before);
    const [backup, check] = steps.filter((s) => s.kind === 'action');
    expect(backup?.inputs).toMatchObject({
      label: 'pre-migration',
      'keep-label': 'pre-migration=90d',
      'keep-daily': '7',
    });
    expect(check?.inputs).toMatchObject({ command: 'check', 'expect-label': 'pre-migration', 'max-age': '1h' });
    expect(check?.outputs?.['latest-key']).toBe(key);
    const compare = steps.find((s) => s.kind === 'run' && s.workflow === '.github/workflows/pre-migration-backup.yml');
    expect(compare?.exitCode).toBe(0);
    const migrate = steps.find((s) => s.job === 'migrate' && s.step === 'Migrate');
    expect(migrate?.kind).toBe('not-run'); // the user's migration command is not run here
    expect(migrate?.env?.['RESTORE_POINT']).toBe(key);
    // The recovery closed the issue.
    expect(github.issues[0]?.state).toBe('closed');
    expect(github.issues[0]?.comments.at(-1)?.body).toContain(key);
  }, 120_000);

  test('monthly restore drill: inspect reads the major, the service image follows it, the drill passes', async () => {
    const images = runner.images.length;
    const before = runner.steps.length;
    const result = await runner.run('workflows-templates/postgres-monthly-restore-drill.yml', { name: 'schedule' });
    if (result.result !== 'success') throw new Error(explain(result));
    expect(runner.images.slice(images)).toEqual(['postgres:15']);
    const [check, drill] = runner.steps.slice(before).filter((s) => s.kind === 'action');
    expect(check?.inputs).toMatchObject({ command: 'check', database: 'app', destination: 's3://my-backups/prod' });
    expect(check?.outputs?.['latest-server-major']).toBe('15');
    expect(drill?.inputs).toMatchObject({
      command: 'drill',
      'backup-key': check?.outputs?.['latest-key'],
      'target-database-url': `postgres://postgres:drill-scratch-only@localhost:${service.port}/drill?sslmode=disable`,
      'decryption-private-key': keys.privateKey,
    });
    expect(drill?.outputs?.['drill-passed']).toBe('true');
    expect(result.jobs['drill']?.outputs['restored-key']).toBe(check?.outputs?.['latest-key']);
    expect(await service.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'drill'")).toBe('0');
  }, 120_000);
});

describe('reusable restore-drill.yml called directly', () => {
  const call = (drillSql: string) =>
    runner.run('.github/workflows/restore-drill.yml', {
      name: 'workflow_call',
      callerName: 'Drill check',
      inputs: {
        database: 'app',
        destination: 's3://my-backups/prod',
        label: 'pre-migration',
        'drill-sql': drillSql,
        'timeout-minutes': 30,
      },
      secrets: {
        S3_ENDPOINT: s3.endpoint,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        BACKUP_PRIVATE_KEY: keys.privateKey,
        WEBHOOK_URL: secrets['WEBHOOK_URL'] as string,
      },
    });

  test('a failing assertion fails the drill and opens the failure issue; the next passing drill closes it', async () => {
    const issues = github.issues.length;
    const products = Number(await prod.psql('app', 'SELECT count(*) FROM shop.products'));
    expect(products).toBeGreaterThan(7);
    const bad = await call('SELECT count(*) = 7 FROM shop.products');
    expect(bad.result).toBe('failure');
    expect(bad.outputs['drill-passed']).toBe('false');
    expect(bad.outputs['server-major']).toBe('15');
    expect(github.issues).toHaveLength(issues + 1);
    const issue = github.issues.at(-1);
    expect(issue?.state).toBe('open');
    expect(issue?.title).toMatch(/Drill check/);

    const good = await call(`SELECT count(*) = ${products} FROM shop.products`);
    expect(good.result).toBe('success');
    expect(good.outputs['drill-passed']).toBe('true');
    expect(good.outputs['restored-key']).toMatch(/-pre-migration\.dump/);
    expect(issue?.state).toBe('closed');
  }, 120_000);
});

describe('a whole server through the reusable workflows', () => {
  test('backup.yml with database: all stores each database; restore-drill.yml drills each', async () => {
    await prod.psql('postgres', 'CREATE DATABASE ledger');
    await prod.psql(
      'ledger',
      'CREATE TABLE entries (id int PRIMARY KEY); INSERT INTO entries SELECT generate_series(1, 42)',
    );
    const store = {
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
    };
    const backup = await runner.run('.github/workflows/backup.yml', {
      name: 'workflow_call',
      callerName: 'Server backup',
      inputs: { database: 'all', 'exclude-database': 'postgres', destination: 's3://my-backups/server' },
      secrets: { ...store, DATABASE_URL: prod.url('postgres'), BACKUP_PUBLIC_KEY: keys.publicKey },
    });
    if (backup.result !== 'success') throw new Error(explain(backup));
    const stored = JSON.parse(backup.outputs['backups-json'] as string) as { database: string; status: string }[];
    expect(stored.map((b) => [b.database, b.status])).toEqual([
      ['app', 'ok'],
      ['ledger', 'ok'],
      ['postgres', 'skipped'],
    ]);
    expect(backup.outputs['backup-key']).toMatch(/^server\/app\//);
    expect((await bucketKeys('server/ledger/')).filter((k) => k.endsWith('.manifest.json'))).toHaveLength(1);

    const before = runner.steps.length;
    const drill = await runner.run('.github/workflows/restore-drill.yml', {
      name: 'workflow_call',
      callerName: 'Server drill',
      inputs: { database: 'all', destination: 's3://my-backups/server', 'timeout-minutes': 30 },
      secrets: { ...store, BACKUP_PRIVATE_KEY: keys.privateKey },
    });
    if (drill.result !== 'success') throw new Error(explain(drill));
    expect(drill.outputs['drill-passed']).toBe('true');
    const [, step] = runner.steps.slice(before).filter((s) => s.kind === 'action');
    // Each database's newest backup, not the first database's key for all of them.
    expect(step?.inputs?.['backup-key']).toBe('latest');
    const drilled = JSON.parse(step?.outputs?.['backups-json'] ?? '[]') as { database: string; status: string }[];
    expect(drilled.map((b) => [b.database, b.status])).toEqual([
      ['app', 'ok'],
      ['ledger', 'ok'],
    ]);
    expect(await service.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'drill%'")).toBe('0');
  }, 180_000);
});

describe("CI's end-to-end job (uses: ./)", () => {
  test('loads the schema, backs up, checks and drills into a second database of the service', async () => {
    const before = runner.steps.length;
    const result = await runner.run('.github/workflows/ci.yml', { name: 'push' });
    const steps = runner.steps.slice(before);
    expect(result.jobs['e2e']?.result).toBe('success');
    if (result.jobs['e2e']?.result !== 'success') throw new Error(explain(result));
    expect(steps.filter((s) => s.job === 'e2e').map((s) => `${s.kind} ${s.step}`)).toEqual([
      'not-run actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683',
      'run Load a small schema into database app',
      'action Backup',
      'action Check',
      'action Drill into a second database of the same server',
      'run Outputs are as expected',
    ]);
    const backup = steps.find((s) => s.step === 'Backup');
    expect(backup?.inputs?.['destination']).toBe(`file://${work}/backups`);
    expect(backup?.outputs?.['server-version']).toMatch(/^15\./);
    expect(steps.find((s) => s.step === 'Outputs are as expected')?.log).toContain('backup, check and drill agree');
  }, 120_000);
});
