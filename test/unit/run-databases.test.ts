import { parseConfig } from '../../src/config/parse.js';
import type { Config, DatabaseSelection } from '../../src/config/types.js';
import { DumpError } from '../../src/errors.js';
import type { Host } from '../../src/host.js';
import { execRunner } from '../../src/postgres/client.js';
import { DatabasesError } from '../../src/report/databases-report.js';
import type { ToolProbes } from '../../src/run/context.js';
import { runDatabases, type ResolveDeps } from '../../src/run/databases.js';
import { realDeps } from '../../src/run/deps.js';
import { asBackup } from '../support/config.js';

/** A host that records what the run shows. */
function fakeHost(): { host: Host; lines: string[]; outputs: Record<string, string>; summaries: string[] } {
  const lines: string[] = [];
  const outputs: Record<string, string> = {};
  const summaries: string[] = [];
  const host: Host = {
    log: {
      info: (m: string) => lines.push(m),
      warning: (m: string) => lines.push(`warning: ${m}`),
      group: <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        lines.push(`group: ${name}`);
        return fn();
      },
    },
    debug: () => undefined,
    setSecret: () => undefined,
    setOutputs: (o: Readonly<Record<string, string>>) => Object.assign(outputs, o),
    writeSummary: (m: string) => {
      summaries.push(m);
      return Promise.resolve();
    },
    setFailed: () => undefined,
    runner: execRunner({ silent: true }),
    tempDir: '/tmp',
  };
  return { host, lines, outputs, summaries };
}

const RESOLVE: ResolveDeps = {
  listServer: () =>
    Promise.resolve([
      { name: 'a', canConnect: true },
      { name: 'b', canConnect: true },
      { name: 'c', canConnect: true },
      { name: 'skip_me', canConnect: false },
    ]),
  listStored: () => Promise.resolve(['a', 'b']),
};

function backupConfig(parallel: number): Config & { databases: DatabaseSelection } {
  return parseConfig(
    (name) =>
      ({
        'database-url': 'postgres://u:secretpw@h/postgres',
        database: 'all',
        'exclude-database': 'skip_*',
        'parallel-databases': String(parallel),
        destination: 'file:///tmp/x',
      })[name] ?? '',
  ) as Config & { databases: DatabaseSelection };
}

describe('a run over several databases', () => {
  test.each([1, 3])('parallel %d: b fails, a and c run, one error names b, outputs are in order', async (parallel) => {
    const { host, lines, outputs, summaries } = fakeHost();
    const ran: string[] = [];
    const error = await runDatabases(
      backupConfig(parallel),
      { host, signal: new AbortController().signal, secrets: ['secretpw'] },
      async (config, context) => {
        ran.push(config.database);
        await context.host.log.group('Dump', () => Promise.resolve(context.host.log.info('dumping')));
        if (config.database === 'b') throw new DumpError('pg_dump died (password secretpw)');
        context.host.setOutputs({
          'backup-key': `${config.database}/k.dump`,
          'size-bytes': '10',
          sha256: 'f'.repeat(64),
        });
        await context.host.writeSummary(`## PostgreSQL backup: ${config.database}\n`);
        return { backupKey: `${config.database}/k.dump` };
      },
      RESOLVE,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabasesError);
    expect((error as DatabasesError).phase).toBe('dump');
    expect((error as DatabasesError).message).toMatch(
      /^backup failed for 1 of 3 databases: b \(dump: pg_dump died \(password \*\*\*\)\)\. Stored and verified: a, c\./,
    );
    expect(ran.sort()).toEqual(['a', 'b', 'c']);
    const json = JSON.parse(outputs['backups-json'] ?? '') as { database: string; status: string; key?: string }[];
    expect(json.map((e) => [e.database, e.status, e.key])).toEqual([
      ['a', 'ok', 'a/k.dump'],
      ['b', 'failed', undefined],
      ['c', 'ok', 'c/k.dump'],
      ['skip_me', 'skipped', undefined],
    ]);
    expect(outputs['backup-key']).toBe('a/k.dump');
    expect(lines).toContain(
      'warning: Skipped (the role "u" may not connect to them; exclude-database leaves them out): skip_me.',
    );
    if (parallel > 1) {
      expect(lines).toContain('[b] dumping');
      expect(lines).toContain('[b] Dump');
      expect(lines.filter((l) => l.startsWith('group: ['))).toEqual([]);
    } else {
      expect(lines).toContain('group: [b] Dump');
      expect(lines).toContain('dumping');
    }
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toContain('| **Total** (4) | 2 ok, 1 failed, 1 skipped |');
    expect(summaries[0]).not.toContain('secretpw');
  });

  test('at most parallel-databases run at once', async () => {
    const { host } = fakeHost();
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const run = runDatabases(
      backupConfig(2),
      { host, signal: new AbortController().signal, secrets: [] },
      async () => {
        await Promise.resolve();
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
        return {};
      },
      RESOLVE,
    );
    // Release the waiting databases one by one until all three have run.
    for (let released = 0; released < 3; released++) {
      while (release.length === 0) await new Promise((resolve) => setImmediate(resolve));
      release.shift()?.();
    }
    await run;
    expect(most).toBe(2);
  });

  test('once cancelled, no further database starts', async () => {
    const { host, outputs } = fakeHost();
    const controller = new AbortController();
    const ran: string[] = [];
    await runDatabases(
      backupConfig(1),
      { host, signal: controller.signal, secrets: [] },
      (config) => {
        ran.push(config.database);
        controller.abort();
        return Promise.resolve({});
      },
      RESOLVE,
    ).catch(() => undefined);
    expect(ran).toEqual(['a']);
    const json = JSON.parse(outputs['backups-json'] ?? '') as { status: string }[];
    expect(json.map((e) => e.status)).toEqual(['ok', 'failed', 'failed', 'skipped']);
  });

  test('every database of a run gets the same tool probes; a failed probe is asked again', async () => {
    const { host } = fakeHost();
    const seen: (ToolProbes | undefined)[] = [];
    await runDatabases(
      backupConfig(2),
      { host, signal: new AbortController().signal, secrets: [] },
      (_config, context) => {
        seen.push(context.probes);
        return Promise.resolve({});
      },
      RESOLVE,
    );
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBeDefined();
    expect(new Set(seen).size).toBe(1);

    const probes = seen[0] as ToolProbes;
    const config = { ...asBackup(backupConfig(1)), installClient: false };
    const deps = realDeps(config, undefined, host.log, host, probes);
    const first = deps.detectStdbuf('/usr/lib/postgresql/15/bin/pg_dump');
    expect(deps.detectStdbuf('/usr/lib/postgresql/15/bin/pg_dump')).toBe(first);
    await first;
    expect(probes.stdbuf.size).toBe(1);
    // No pg_dump 98 anywhere and no install: rejected, forgotten, asked afresh by the next database.
    const missing = deps.ensureClient(98);
    await expect(missing).rejects.toThrow();
    expect(probes.clients.size).toBe(0);
    const again = deps.ensureClient(98);
    expect(again).not.toBe(missing);
    await expect(again).rejects.toThrow();
  });
});
