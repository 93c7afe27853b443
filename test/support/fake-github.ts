/**
 * A fake GitHub REST API for integration tests: node:http on 127.0.0.1, in-memory state, the few
 * endpoints failure reporting uses, answering in GitHub's JSON shapes (so a real Octokit talks to it):
 *
 * - GET    /repos/{o}/{r}/issues?labels=a,b&state=open&per_page&page   (Link header pagination; PRs never stored)
 * - POST   /repos/{o}/{r}/issues                                       (title, body, labels, assignees)
 * - PATCH  /repos/{o}/{r}/issues/{n}                                   (state, state_reason, body, title)
 * - GET    /repos/{o}/{r}/issues/{n}/comments?per_page&page
 * - POST   /repos/{o}/{r}/issues/{n}/comments
 * - GET    /repos/{o}/{r}/actions/workflows/{workflow_id}/runs?branch&status&per_page
 * - GET    /repos/{o}/{r}/actions/runs/{id}/jobs  and  /actions/runs/{id}/attempts/{n}/jobs
 * - GET    /repos/{o}/{r}                                              (`private`, `pushed_at`: `repository`)
 * - PUT    /repos/{o}/{r}/actions/workflows/{workflow_id}/enable        (204; recorded in `enabled`)
 *
 * Every request is recorded (`requests`). `override` answers a request instead of the fake (a 403
 * with GitHub's body, a 500, …). `basePath` serves under e.g. `/api/v3` like GitHub Enterprise Server.
 * Requests must carry `Authorization: token <token>` (or Bearer) or get 401 Bad credentials.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { scanForSecrets } from './secret-scan.js';

export interface FakeComment {
  id: number;
  body: string;
  created_at: string;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
  state: 'open' | 'closed';
  state_reason: string | null;
  comments: FakeComment[];
}

export interface FakeJob {
  name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  runner_name: string | null;
}

export interface FakeRun {
  id: number;
  /** Workflow file name (`backup.yml`). */
  workflow: string;
  head_branch: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  run_attempt: number;
  jobs: FakeJob[];
}

export interface RecordedRequest {
  method: string;
  /** Path without basePath and query, e.g. `/repos/acme/shop/issues`. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

export interface FakeAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Never answer (the socket stays open until stop()). */
  hang?: boolean;
}

export interface FakeGitHubOptions {
  owner?: string;
  repo?: string;
  token?: string;
  /** Largest per_page honoured (GitHub: 100); small values force pagination. */
  maxPerPage?: number;
  /** e.g. `/api/v3` (GHES). */
  basePath?: string;
  /** Logins that can be assigned; others get 422 Validation Failed. Default: anyone. */
  assignable?: string[];
  /** Secrets no request may carry: every body is scanned for them in all encodings (`leaks`). */
  secrets?: string[];
}

/** What GET /repos/{o}/{r} answers about visibility and the last push (changeable between runs). */
export interface FakeRepository {
  private: boolean;
  /** ISO 8601, or null for a repository never pushed to. */
  pushed_at: string | null;
}

/** GitHub's answer to a GITHUB_TOKEN without the needed permission. */
export function forbiddenBody(doc = 'https://docs.github.com/rest/issues/issues#create-an-issue'): unknown {
  return { message: 'Resource not accessible by integration', documentation_url: doc, status: '403' };
}

/** A field of a request body as text: a string as sent, another scalar as String() writes it, an object as its JSON. */
function jsonText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

export class FakeGitHub {
  readonly issues: FakeIssue[] = [];
  readonly runs: FakeRun[] = [];
  readonly requests: RecordedRequest[] = [];
  /** `METHOD path: "form"` for each encoding of options.secrets found in a request body. */
  readonly leaks: string[] = [];
  /** The repository's visibility and last push (GET /repos/{o}/{r}); default public, pushed now. */
  repository: FakeRepository = { private: false, pushed_at: new Date().toISOString() };
  /** `workflow_id` of each PUT …/actions/workflows/{workflow_id}/enable, in order. */
  readonly enabled: string[] = [];
  /** Answer a request before the fake does (return undefined to let the fake answer). */
  override: ((request: RecordedRequest) => FakeAnswer | undefined) | undefined;
  private nextIssue = 1;
  private nextComment = 1000;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly options: Required<Omit<FakeGitHubOptions, 'assignable' | 'secrets'>> & {
      assignable?: string[];
      secrets?: string[];
    },
  ) {}

  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    const server = createServer();
    const fake = new FakeGitHub(server, {
      owner: options.owner ?? 'acme',
      repo: options.repo ?? 'shop',
      token: options.token ?? 'ghs_faketoken',
      maxPerPage: options.maxPerPage ?? 100,
      basePath: options.basePath ?? '',
      ...(options.assignable ? { assignable: options.assignable } : {}),
      ...(options.secrets ? { secrets: options.secrets } : {}),
    });
    server.on('request', (req, res) => void fake.handle(req, res));
    server.on('connection', (socket) => {
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  /** The port it listens (or listened) on; kept after stop() so a test can aim at a closed port. */
  port = 0;

  /** Base URL to pass as GITHUB_API_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.options.basePath}`;
  }

  /** Requests other than GETs. */
  get writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  /** A run of `workflow` that is in progress, with its jobs (each in progress on its runner). */
  startRun(
    id: number,
    jobs: { name: string; runner: string }[],
    opts: { workflow?: string; branch?: string } = {},
  ): FakeRun {
    const run: FakeRun = {
      id,
      workflow: opts.workflow ?? 'backup.yml',
      head_branch: opts.branch ?? 'main',
      status: 'in_progress',
      conclusion: null,
      run_attempt: 1,
      jobs: jobs.map((j) => ({ name: j.name, status: 'in_progress', conclusion: null, runner_name: j.runner })),
    };
    this.runs.push(run);
    return run;
  }

  /** Completes a run: each job gets its conclusion (default `conclusion`), the run `failure` if any job failed. */
  finishRun(id: number, jobConclusions: Record<string, string>, fallback = 'success'): void {
    const run = this.runs.find((r) => r.id === id);
    if (!run) throw new Error(`no run ${id}`);
    for (const job of run.jobs) {
      job.status = 'completed';
      job.conclusion = jobConclusions[job.name] ?? fallback;
    }
    run.status = 'completed';
    const all = run.jobs.map((j) => j.conclusion);
    run.conclusion = all.includes('failure') ? 'failure' : all.includes('cancelled') ? 'cancelled' : 'success';
  }

  /** Drops open connections and stops listening. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private issueJson(issue: FakeIssue): Record<string, unknown> {
    const { owner, repo } = this.options;
    return {
      id: 500000 + issue.number,
      number: issue.number,
      title: issue.title,
      body: issue.body,
      state: issue.state,
      state_reason: issue.state_reason,
      labels: issue.labels.map((name, i) => ({ id: i + 1, name, color: 'ededed', default: false })),
      assignees: issue.assignees.map((login) => ({ login })),
      comments: issue.comments.length,
      html_url: `https://github.example/${owner}/${repo}/issues/${issue.number}`,
      url: `${this.url}/repos/${owner}/${repo}/issues/${issue.number}`,
    };
  }

  private page<T>(items: T[], query: Record<string, string>, path: string, res: ServerResponse): T[] {
    const perPage = Math.min(Number(query['per_page'] ?? '30'), this.options.maxPerPage);
    const page = Number(query['page'] ?? '1');
    const slice = items.slice((page - 1) * perPage, page * perPage);
    if (page * perPage < items.length) {
      const next = new URLSearchParams({ ...query, page: String(page + 1) });
      res.setHeader('link', `<${this.url}${path}?${next.toString()}>; rel="next"`);
    }
    return slice;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    if (this.options.secrets)
      this.leaks.push(
        ...scanForSecrets(`${req.method} ${url.pathname}`, `${req.url ?? ''}\n${text}`, this.options.secrets),
      );
    let path = url.pathname;
    // Like GitHub Enterprise Server, nothing is served outside the base path.
    const outsideBase = this.options.basePath !== '' && !path.startsWith(this.options.basePath);
    if (!outsideBase) path = path.slice(this.options.basePath.length);
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      body: text === '' ? undefined : JSON.parse(text),
      authorization: req.headers.authorization,
    };
    this.requests.push(request);

    const send = (answer: FakeAnswer): void => {
      if (answer.hang) return;
      res.statusCode = answer.status;
      for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
      if (answer.body === undefined) {
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(answer.body));
    };

    const overridden = this.override?.(request);
    if (overridden) return send(overridden);

    if (outsideBase) return send({ status: 404, body: { message: 'Not Found', status: '404' } });
    const auth = request.authorization ?? '';
    if (auth !== `token ${this.options.token}` && auth !== `Bearer ${this.options.token}`) {
      return send({
        status: 401,
        body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' },
      });
    }
    const { owner, repo } = this.options;
    const prefix = `/repos/${owner}/${repo}`;
    if (path === prefix && request.method === 'GET') {
      return send({
        status: 200,
        body: {
          id: 4242,
          name: repo,
          full_name: `${owner}/${repo}`,
          owner: { login: owner },
          private: this.repository.private,
          visibility: this.repository.private ? 'private' : 'public',
          pushed_at: this.repository.pushed_at,
          default_branch: 'main',
          html_url: `https://github.example/${owner}/${repo}`,
        },
      });
    }
    if (!path.startsWith(`${prefix}/`)) return send({ status: 404, body: { message: 'Not Found', status: '404' } });
    const rest = path.slice(prefix.length);
    const body = (request.body ?? {}) as Record<string, unknown>;
    let m: RegExpExecArray | null;

    if (rest === '/issues' && request.method === 'GET') {
      const wanted = (request.query['labels'] ?? '').split(',').filter((l) => l !== '');
      const state = request.query['state'] ?? 'open';
      const matching = this.issues
        .filter((i) => state === 'all' || i.state === state)
        .filter((i) => wanted.every((l) => i.labels.includes(l)))
        .sort((a, b) => b.number - a.number);
      return send({ status: 200, body: this.page(matching, request.query, path, res).map((i) => this.issueJson(i)) });
    }
    if (rest === '/issues' && request.method === 'POST') {
      const assignees = (body['assignees'] as string[] | undefined) ?? [];
      const bad = this.options.assignable ? assignees.filter((a) => !this.options.assignable?.includes(a)) : [];
      if (bad.length > 0) {
        return send({
          status: 422,
          body: {
            message: 'Validation Failed',
            errors: bad.map((value) => ({ value, resource: 'Issue', field: 'assignees', code: 'invalid' })),
            documentation_url: 'https://docs.github.com/rest/issues/issues#create-an-issue',
            status: '422',
          },
        });
      }
      const issue: FakeIssue = {
        number: this.nextIssue++,
        title: jsonText(body['title'] ?? ''),
        body: jsonText(body['body'] ?? ''),
        labels: ((body['labels'] as unknown[] | undefined) ?? []).map((l) =>
          typeof l === 'string' ? l : String((l as { name: string }).name),
        ),
        assignees,
        state: 'open',
        state_reason: null,
        comments: [],
      };
      this.issues.push(issue);
      return send({ status: 201, body: this.issueJson(issue) });
    }
    if ((m = /^\/issues\/(\d+)$/.exec(rest)) && request.method === 'PATCH') {
      const issue = this.issues.find((i) => i.number === Number(m?.[1]));
      if (!issue) return send({ status: 404, body: { message: 'Not Found', status: '404' } });
      if (body['state'] === 'closed' || body['state'] === 'open') issue.state = body['state'];
      if ('state_reason' in body) issue.state_reason = (body['state_reason'] as string | null) ?? null;
      if (typeof body['body'] === 'string') issue.body = body['body'];
      if (typeof body['title'] === 'string') issue.title = body['title'];
      return send({ status: 200, body: this.issueJson(issue) });
    }
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const issue = this.issues.find((i) => i.number === Number(m?.[1]));
      if (!issue) return send({ status: 404, body: { message: 'Not Found', status: '404' } });
      if (request.method === 'GET') {
        return send({
          status: 200,
          body: this.page(issue.comments, request.query, path, res).map((c) => ({
            id: c.id,
            body: c.body,
            created_at: c.created_at,
            user: { login: 'github-actions[bot]' },
          })),
        });
      }
      if (request.method === 'POST') {
        const comment: FakeComment = {
          id: this.nextComment++,
          body: jsonText(body['body'] ?? ''),
          created_at: new Date().toISOString(),
        };
        issue.comments.push(comment);
        return send({
          status: 201,
          body: {
            id: comment.id,
            body: comment.body,
            html_url: `https://github.example/${owner}/${repo}/issues/${issue.number}#issuecomment-${comment.id}`,
          },
        });
      }
    }
    if ((m = /^\/actions\/workflows\/([^/]+)\/enable$/.exec(rest)) && request.method === 'PUT') {
      this.enabled.push(decodeURIComponent(m[1] ?? ''));
      return send({ status: 204 });
    }
    if ((m = /^\/actions\/workflows\/([^/]+)\/runs$/.exec(rest)) && request.method === 'GET') {
      const workflow = decodeURIComponent(m[1] ?? '');
      const runs = this.runs
        .filter((r) => r.workflow === workflow)
        .filter((r) => !request.query['branch'] || r.head_branch === request.query['branch'])
        .filter(
          (r) =>
            !request.query['status'] ||
            r.status === request.query['status'] ||
            r.conclusion === request.query['status'],
        )
        .sort((a, b) => b.id - a.id);
      const page = this.page(runs, request.query, path, res);
      return send({
        status: 200,
        body: {
          total_count: runs.length,
          workflow_runs: page.map((r) => ({
            id: r.id,
            head_branch: r.head_branch,
            status: r.status,
            conclusion: r.conclusion,
            run_attempt: r.run_attempt,
          })),
        },
      });
    }
    if ((m = /^\/actions\/runs\/(\d+)(?:\/attempts\/(\d+))?\/jobs$/.exec(rest)) && request.method === 'GET') {
      const run = this.runs.find((r) => r.id === Number(m?.[1]));
      if (!run) return send({ status: 404, body: { message: 'Not Found', status: '404' } });
      const jobs = run.jobs.map((j, i) => ({
        id: run.id * 100 + i,
        run_id: run.id,
        name: j.name,
        status: j.status,
        conclusion: j.conclusion,
        runner_name: j.runner_name,
      }));
      return send({ status: 200, body: { total_count: jobs.length, jobs: this.page(jobs, request.query, path, res) } });
    }
    return send({
      status: 404,
      body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' },
    });
  }
}
