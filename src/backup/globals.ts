import type { Dumper } from '../postgres/dumper.js';
import { buildPgDumpallGlobalsArgs } from '../postgres/dump-args.js';
import { dumpFailure } from '../postgres/dump-failure.js';
import { libpqEnv } from '../postgres/libpq.js';
import type { Connection } from '../postgres/types.js';

/** `pg_dumpall --globals-only --no-role-passwords`, buffered (a few KB). */
export async function dumpGlobals(dumper: Dumper, connection: Connection): Promise<Buffer> {
  const child = dumper.start(
    'pg_dumpall',
    [...buildPgDumpallGlobalsArgs(), `--database=${connection.database}`],
    libpqEnv(connection),
  );
  const chunks: Buffer[] = [];
  if (!child.stdout) throw new Error('pg_dumpall was started without a stdout');
  for await (const chunk of child.stdout) chunks.push(chunk as Buffer);
  await child.done.catch((error: unknown) => {
    throw dumpFailure(error, connection);
  });
  return Buffer.concat(chunks);
}
