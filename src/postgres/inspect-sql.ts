/** The catalog queries of the snapshot session (inspect.ts, fingerprint.ts): user tables and object counts. */

/** Schemas that are not user schemas: system, toast and temp (pg_temp_N, pg_toast_temp_N). */
export const USER_NAMESPACE = `n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`;
/** SQL condition: the object `oid` (of system catalog `catalog`) is not a member of an extension. */
export const notExtensionMember = (oid: string, catalog: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

export const USER_TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS table, c.reltuples::float8 AS reltuples,
         s.n_live_tup::float8 AS live
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
  WHERE c.relkind = 'r' AND ${USER_NAMESPACE} AND ${notExtensionMember('c.oid', 'pg_catalog.pg_class')}
    -- Tables the role cannot read are left out: pg_dump fails on them unless they are excluded,
    -- and an excluded one must not fail the counts.
    AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND pg_catalog.has_table_privilege(c.oid, 'SELECT')`;

export const CATALOG_COUNTS_SQL = `
  WITH rel AS (
    SELECT c.relkind FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NAMESPACE} AND ${notExtensionMember('c.oid', 'pg_catalog.pg_class')}
      AND (c.relkind NOT IN ('i', 'I') OR NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_index x WHERE x.indexrelid = c.oid AND NOT ${notExtensionMember('x.indrelid', 'pg_catalog.pg_class')}))
  )
  SELECT
    (SELECT count(*) FROM rel WHERE relkind = 'r') AS tables,
    (SELECT count(*) FROM rel WHERE relkind = 'p') AS partitioned_tables,
    (SELECT count(*) FROM rel WHERE relkind IN ('i', 'I')) AS indexes,
    (SELECT count(*) FROM rel WHERE relkind = 'v') AS views,
    (SELECT count(*) FROM rel WHERE relkind = 'm') AS materialized_views,
    (SELECT count(*) FROM rel WHERE relkind = 'S') AS sequences,
    (SELECT count(*) FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
       WHERE ${USER_NAMESPACE} AND k.contype <> 'n'
         AND ${notExtensionMember('k.oid', 'pg_catalog.pg_constraint')}
         AND (k.conrelid = 0 OR ${notExtensionMember('k.conrelid', 'pg_catalog.pg_class')})
         AND (k.contypid = 0 OR ${notExtensionMember('k.contypid', 'pg_catalog.pg_type')})) AS constraints,
    (SELECT count(*) FROM pg_catalog.pg_proc p
       JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
       WHERE ${USER_NAMESPACE} AND ${notExtensionMember('p.oid', 'pg_catalog.pg_proc')}) AS functions`;
