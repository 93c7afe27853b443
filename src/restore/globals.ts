/**
 * The globals file (roles) of a backup: rewritten so that it applies to a server that already has
 * some of the roles, checked against the manifest, decrypted when needed, and run with psql.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import { spawnStage } from '../pipeline/process.js';
import { libpqEnv } from '../postgres/libpq.js';
import type { Connection } from '../postgres/types.js';
import { readObject } from '../storage/read.js';
import type { ObjectStore } from '../storage/types.js';
import { buildPsqlArgs } from './args.js';
import { CorruptArchiveError, RestoreError, toolFailure } from './errors.js';
import type { Expected } from './stages.js';

/**
 * Rewrites `pg_dumpall --globals-only` output so it can be applied with ON_ERROR_STOP to a server
 * that already has some of the roles: each `CREATE ROLE x;` becomes a DO block that ignores
 * `duplicate_object` (the following `ALTER ROLE` still sets the attributes); tablespace statements
 * are commented out (their folders belong to the source server). Returns the SQL and the skipped lines.
 */
export function prepareGlobalsSql(sql: string): { sql: string; skipped: string[] } {
  const skipped: string[] = [];
  const out = sql.split('\n').map((line) => {
    const role = /^CREATE ROLE (.+);\s*$/.exec(line);
    if (role && !line.includes('$globals$')) {
      return `DO $globals$ BEGIN CREATE ROLE ${role[1]}; EXCEPTION WHEN duplicate_object THEN NULL; END $globals$;`;
    }
    if (
      /^(CREATE|ALTER|DROP) TABLESPACE |^(COMMENT|SECURITY LABEL)\b.* ON TABLESPACE |^(GRANT|REVOKE)\b.* ON TABLESPACE /.test(
        line,
      )
    ) {
      skipped.push(line);
      return `-- skipped: ${line}`;
    }
    return line;
  });
  return { sql: out.join('\n'), skipped };
}

/**
 * Applies the globals file (roles) with psql, after checking its SHA-256 and size against the
 * manifest. Connects to the target database (roles are cluster-wide).
 * @throws CorruptArchiveError, RestoreError.
 */
export async function applyGlobals(input: {
  store: ObjectStore;
  key: string;
  expected: Expected;
  binDir: string;
  target: Connection;
  log: Log;
  /** Decrypting stage for an encrypted globals file (`.globals.sql.gpg`). */
  decrypt?: Duplex;
}): Promise<{ roles: number; skipped: string[] }> {
  const where = input.store.destination.url;
  let data: Buffer;
  try {
    data = await readObject(input.store, input.key);
  } catch (error) {
    throw new RestoreError(`Reading the globals ${input.key} from ${where} failed: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  if (sha256 !== input.expected.sha256 || data.length !== input.expected.bytes) {
    throw new CorruptArchiveError(input.key, where, input.expected, { bytes: data.length, sha256 });
  }
  let plain = data;
  if (input.decrypt) {
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([data]),
      input.decrypt,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out.push(chunk);
          callback();
        },
      }),
    );
    plain = Buffer.concat(out);
  }
  const { sql, skipped } = prepareGlobalsSql(plain.toString('utf8'));
  for (const line of skipped)
    input.log.warning(`Globals: not applied (tablespaces belong to the source server): ${line}`);
  const child = spawnStage('psql', join(input.binDir, 'psql'), buildPsqlArgs(), {
    env: libpqEnv(input.target),
    inherit: (name) => !name.startsWith('PG'),
    stdin: 'pipe',
    onStderrLine: (line) => input.log.info(`psql: ${line.replace(/^psql: /, '')}`),
  });
  child.stdout?.resume();
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(sql);
  await child.done.catch((error: unknown) => {
    throw toolFailure(error, input.target, input.key);
  });
  return { roles: (sql.match(/CREATE ROLE /g) ?? []).length, skipped };
}
