/**
 * Restoring into a server of another major (or one built without lz4), handled before the restore:
 * the target server's major is compared with the manifest's `server.major`, and what the archive
 * holds that the target cannot take is named (with the fix) or filtered.
 *
 * - Into a server built without lz4 (`default_toast_compression` lacks `lz4`): a column the source
 *   set to `COMPRESSION lz4` fails ("compression method lz4 not supported"). pg_dump writes it as
 *   `ALTER TABLE … ALTER COLUMN … SET COMPRESSION lz4` inside the table's own TOC entry, so a
 *   pg_restore list (`-L`) cannot leave it out; the fix is `--no-toast-compression` at backup.
 * - Into an older server: PostgreSQL 18+ archives carry statistics (`STATISTICS DATA` entries
 *   calling `pg_restore_relation_stats()`, absent before 18): left out with pg_restore
 *   `--no-statistics` (pg_restore 18+, which such an archive needs anyway); a plain script cannot
 *   be filtered. A plain script of pg_dump 17+ starts with `SET transaction_timeout = 0`, which an
 *   older server rejects; pg_restore 17 sets it when it connects too (reported failing
 *   against older servers; not filterable: it is not a TOC entry).
 * - A plain script written by the 2025 security releases (13.22, 14.19, 15.14, 16.10, 17.6 and
 *   later) holds `\restrict` / `\unrestrict` lines that an older psql does not know.
 * Source: PostgreSQL docs, "pg_dump" (`--no-toast-compression`, `--no-statistics`), "pg_restore",
 * release notes 17.6 (CVE-2025-8714).
 */
import type { Manifest } from '../manifest.js';
import type { Connection, DumpFormat } from '../postgres/types.js';
import type { Log } from '../log.js';
import { RestoreError } from './errors.js';
import { withMaintenance, type TargetAccess } from './target.js';

/** What {@link planCrossMajor} decides from. */
export interface CrossMajorFacts {
  /** The manifest's `server.major` (the source server). */
  sourceMajor: number;
  /** The major of pg_dump that wrote the archive (manifest `client.major`). */
  dumpMajor: number;
  /** pg_dump's version string that wrote the archive (manifest `client.pgDumpVersion`), e.g. "15.14". */
  dumpVersion: string;
  format: DumpFormat;
  /** The target server's major. */
  targetMajor: number;
  /** The target's accepted `default_toast_compression` values (pg_settings.enumvals), e.g. ['pglz']. */
  targetToastCompressions: string[];
  /** The version of the restoring psql/pg_restore, e.g. "15.20". */
  clientVersion: string;
  /** Columns the source compressed with lz4, when the manifest records it (undefined: unknown). */
  lz4Columns?: number | undefined;
}

/** What to do about a target of another major, from {@link planCrossMajor}. */
export interface CrossMajorPlan {
  /** Printed before the restore. */
  notes: string[];
  /** Why the restore would fail, with the fix; the restore is not started. */
  errors: string[];
  /** Leave the archive's statistics out (pg_restore --no-statistics). */
  noStatistics: boolean;
}

/** First minor of each major whose pg_dump writes `\restrict` into plain scripts (August 2025 releases). */
const RESTRICT_SINCE: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };

/** "15.14 (Debian …)" → [15, 14]; a development version ("18beta1") → [18, 0]. */
function majorMinor(version: string): [number, number] {
  const m = /^(\d+)(?:\.(\d+))?/.exec(version.trim());
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
}

/** True when that psql/pg_dump version knows `\restrict` (writes it, or reads it). */
export function knowsRestrict(version: string): boolean {
  const [major, minor] = majorMinor(version);
  if (major >= 18) return true;
  const since = RESTRICT_SINCE[major];
  return since !== undefined && minor >= since;
}

/**
 * The plan for restoring an archive with `facts` into its target. Pure.
 * Errors: a plain script the restoring psql cannot read (`\restrict`), a plain 17+ script or 18+
 * plain script into an older server, lz4 columns (when known) into a server without lz4.
 */
export function planCrossMajor(facts: CrossMajorFacts): CrossMajorPlan {
  const plan: CrossMajorPlan = { notes: [], errors: [], noStatistics: false };
  const { sourceMajor, targetMajor, format, dumpMajor } = facts;
  const noLz4 = !facts.targetToastCompressions.includes('lz4');
  if (noLz4 && (facts.lz4Columns ?? 0) > 0) {
    plan.errors.push(
      `the source has ${facts.lz4Columns} column(s) compressed with lz4 (COMPRESSION lz4) and the target server was built without lz4: their CREATE TABLE fails with "compression method lz4 not supported". Restore into a server built with lz4, or take the backup with pg-dump-args: --no-toast-compression (the columns then use the target's default).`,
    );
  } else if (noLz4 && sourceMajor >= 14 && facts.lz4Columns === undefined) {
    plan.notes.push(
      'The target server was built without lz4: a column the source set to COMPRESSION lz4 would fail to restore ("compression method lz4 not supported"); backups taken with pg-dump-args: --no-toast-compression restore anywhere.',
    );
  }
  if (format === 'plain' && !knowsRestrict(facts.clientVersion) && knowsRestrict(facts.dumpVersion)) {
    plan.errors.push(
      `the plain script was written by pg_dump ${facts.dumpVersion}, which writes \\restrict lines; psql ${facts.clientVersion} does not know them ("invalid command \\restrict"). Use psql ${dumpMajor}.${RESTRICT_SINCE[dumpMajor] ?? 0} or newer (client-version), or a newer minor of the client.`,
    );
  }
  if (targetMajor === sourceMajor) return plan;
  if (targetMajor > sourceMajor) {
    plan.notes.push(
      `Restoring a PostgreSQL ${sourceMajor} backup into PostgreSQL ${targetMajor} (a newer major): pg_dump's output is meant to load into newer servers; check the release notes for removed features the source used.`,
    );
    return plan;
  }
  plan.notes.push(
    `Restoring a PostgreSQL ${sourceMajor} backup into PostgreSQL ${targetMajor} (an older major): pg_dump's output is not guaranteed to load into older servers; syntax or features newer than ${targetMajor} fail.`,
  );
  if (dumpMajor >= 18 && targetMajor < 18) {
    if (format === 'plain') {
      plan.errors.push(
        `the plain script of pg_dump ${dumpMajor} holds statistics (pg_restore_relation_stats() calls), which PostgreSQL ${targetMajor} lacks; a plain script cannot be filtered. Take the backup with pg-dump-args: --no-statistics, or use the custom format.`,
      );
    } else {
      plan.noStatistics = true;
      plan.notes.push(
        `Leaving the archive's statistics out (pg_restore --no-statistics): PostgreSQL ${targetMajor} cannot load them; run ANALYZE after the restore.`,
      );
    }
  }
  if (format !== 'plain' && majorMinor(facts.clientVersion)[0] >= 17 && targetMajor < 17) {
    plan.notes.push(
      `pg_restore ${facts.clientVersion} sets transaction_timeout when it connects, which PostgreSQL ${targetMajor} does not know; if the restore stops at "unrecognized configuration parameter", restore into PostgreSQL 17 or newer.`,
    );
  }
  if (format === 'plain' && dumpMajor >= 17 && targetMajor < 17) {
    plan.errors.push(
      `the plain script of pg_dump ${dumpMajor} sets transaction_timeout, which PostgreSQL ${targetMajor} does not know ("unrecognized configuration parameter"). Restore into PostgreSQL 17 or newer (a plain script cannot be filtered).`,
    );
  }
  return plan;
}

/**
 * Reads the target server's major and lz4 support, plans with {@link planCrossMajor}, logs the
 * notes, and fails before the restore on the plan's errors.
 * @throws RestoreError naming every error and its fix (nothing was restored), ConnectionError.
 */
export async function checkTargetServer(
  deps: TargetAccess & { log: Log },
  target: Connection,
  manifest: Manifest,
  client: { version: string },
): Promise<CrossMajorPlan> {
  const server = await withMaintenance(deps, target, async (db, versionNum) => {
    const { rows } = await db.query<{ vals: string[] | null }>(
      `SELECT enumvals AS vals FROM pg_catalog.pg_settings WHERE name = 'default_toast_compression'`,
    );
    return { major: Math.floor(versionNum / 10000), compressions: rows[0]?.vals ?? ['pglz'] };
  });
  const plan = planCrossMajor({
    sourceMajor: manifest.server.major,
    dumpMajor: manifest.client.major,
    dumpVersion: manifest.client.pgDumpVersion,
    format: manifest.format,
    targetMajor: server.major,
    targetToastCompressions: server.compressions,
    clientVersion: client.version,
    lz4Columns: lz4ColumnsInArchive(manifest),
  });
  for (const note of plan.notes) deps.log.info(note);
  if (plan.errors.length > 0) {
    throw new RestoreError(
      `The archive cannot be restored into database '${target.database}' on ${target.host}:${target.port} (PostgreSQL ${server.major}); nothing was restored: ${plan.errors.join(' Also, ')}`,
    );
  }
  return plan;
}

/**
 * How many columns of the archive carry `SET COMPRESSION lz4`: those the manifest recorded, none
 * when the dump ran with `--no-toast-compression`; undefined when the manifest does not say.
 */
export function lz4ColumnsInArchive(manifest: Manifest): number | undefined {
  if ((manifest.options.extraArgs ?? []).includes('--no-toast-compression')) return 0;
  return manifest.content?.lz4Columns?.length;
}
