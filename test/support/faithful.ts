/**
 * The "faithful" fixture (test/fixtures/faithful.sql) and the database it lives in: created with
 * non-default properties — ICU locale `de` (the server must be built with ICU), a comment,
 * `ALTER DATABASE … SET` settings, an `ALTER ROLE … IN DATABASE … SET`, a database ACL granting to a
 * role, and a non-default owner.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, type Cluster } from './pg-cluster.js';

/** Roles the fixture needs; created when missing. */
export const FAITHFUL_ROLES = ['faithful_owner', 'faithful_reader'] as const;

/** The properties the fixture's database is created with (for assertions). */
export const FAITHFUL_DATABASE = {
  icuLocale: 'de',
  comment: "The faithful fixture: it's ICU 'de'",
  owner: 'faithful_owner',
} as const;

/** Creates the roles and the database `db` with its properties, then loads test/fixtures/faithful.sql into it. */
export async function loadFaithful(cluster: Cluster, db: string): Promise<void> {
  const name = `"${db.replace(/"/g, '""')}"`;
  await cluster.psql(
    'postgres',
    FAITHFUL_ROLES.map(
      (r) =>
        `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN CREATE ROLE ${r} LOGIN; END IF; END $$;`,
    ).join('\n'),
  );
  await cluster.psql(
    'postgres',
    [
      `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE '${FAITHFUL_DATABASE.icuLocale}' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' OWNER ${FAITHFUL_DATABASE.owner} CONNECTION LIMIT 50;`,
      `COMMENT ON DATABASE ${name} IS '${FAITHFUL_DATABASE.comment.replace(/'/g, "''")}';`,
      `ALTER DATABASE ${name} SET search_path = "$user", faithful, public;`,
      `ALTER DATABASE ${name} SET work_mem = '8MB';`,
      `ALTER DATABASE ${name} SET "faithful.setting" = 'it''s set';`,
      `ALTER ROLE faithful_reader IN DATABASE ${name} SET statement_timeout = '5s';`,
      `REVOKE TEMPORARY ON DATABASE ${name} FROM PUBLIC;`,
      `GRANT CREATE ON DATABASE ${name} TO faithful_reader WITH GRANT OPTION;`,
    ].join('\n'),
  );
  await cluster.psql(db, readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'faithful.sql'), 'utf8'));
}
