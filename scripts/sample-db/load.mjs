#!/usr/bin/env node
/**
 * Loads the project's sample database, a small shop (schema.sql, data.sql), into an empty database:
 *
 *   node scripts/sample-db/load.mjs --scale <n> --url <postgres url or conninfo>
 *
 * Runs `psql -X -q -v ON_ERROR_STOP=1 --single-transaction -v scale=<n> -f schema.sql -f data.sql`
 * (psql from $PSQL, else $PG_BIN_DIR/psql, else psql on PATH); the role `shop_reader` is created when
 * missing, since roles are cluster-wide. --url defaults to $DATABASE_URL; without either, psql's own
 * PG* variables apply. The content is deterministic: two loads at the same scale are identical.
 *
 * Rows grow linearly with --scale (a number >= 0.01, default 1: a ~20 MB database), and so does the
 * size above an empty database's ~10 MB: ~12.7 MB per unit. Measured on PostgreSQL 15 (fsync off),
 * pg_database_size right after the load, on 2 cores:
 *   --scale 1    22,766,083 bytes (22.8 MB)   load 1.4 s
 *   --scale 5    73,728,515 bytes (73.7 MB)   load 5.0 s
 *   --scale 78   999,735,811 bytes (1.0 GB, the bench's `--sample-db`)   load 62 s
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const USAGE = 'usage: node scripts/sample-db/load.mjs [--scale <n>] [--url <postgres url or conninfo>]';

/** The flags (node:util parseArgs, strict: an unknown flag or a flag without its value is refused). */
function parseFlags(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        scale: { type: 'string', default: '1' },
        url: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail(error.message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(values.scale) || Number(values.scale) < 0.01) {
    fail(`--scale must be a number >= 0.01, got ${values.scale}`);
  }
  return { scale: values.scale, url: values.url ?? process.env.DATABASE_URL };
}

function fail(message) {
  console.error(`load.mjs: ${message}\n${USAGE}`);
  process.exit(2);
}

function psqlPath() {
  if (process.env.PSQL) return process.env.PSQL;
  if (process.env.PG_BIN_DIR) return path.join(process.env.PG_BIN_DIR, 'psql');
  return 'psql';
}

const { scale, url } = parseFlags(process.argv.slice(2));
const args = [
  '-X',
  '-q',
  '-v',
  'ON_ERROR_STOP=1',
  '--single-transaction',
  '-v',
  `scale=${scale}`,
  ...(url ? ['-d', url] : []),
  '-f',
  path.join(HERE, 'schema.sql'),
  '-f',
  path.join(HERE, 'data.sql'),
];
const started = Date.now();
// stdout carries only the results of the SELECTs that set sequences: not worth showing.
const child = spawn(psqlPath(), args, { stdio: ['ignore', 'ignore', 'inherit'] });
child.on('error', (error) => {
  console.error(`load.mjs: cannot run ${psqlPath()}: ${error.message}`);
  process.exit(1);
});
child.on('close', (code, signal) => {
  if (code !== 0) {
    console.error(`load.mjs: psql failed (${signal ?? `exit ${code}`}); nothing was loaded`);
    process.exit(1);
  }
  console.error(
    `load.mjs: sample database loaded at scale ${scale} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});
