/**
 * Finding the clients on this machine: the pg_dump executables in the well-known install folders,
 * $PGBIN and PATH, their versions, and the Linux distribution (/etc/os-release).
 */
import { constants as fsConstants } from 'node:fs';
import { access, readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { toolOutput } from '../../pipeline/process.js';
import type { ClientTool } from '../types.js';

/**
 * Parses `pg_dump --version` output, e.g. "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
 * → { major: 15, version: "15.18" }; "17beta1" → { major: 17, version: "17beta1" }. Before
 * PostgreSQL 10 the major had two parts: "9.6.24" → { major: 9.6, version: "9.6.24" } (the same
 * value inspect.ts derives from server_version_num 90624, and the Debian package suffix).
 */
export function parseClientVersion(stdout: string): { major: number; version: string } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?((?:devel|alpha|beta|rc)\d*)?/.exec(stdout);
  if (!m) return undefined;
  const first = Number(m[1]);
  if (first >= 10) {
    const version = m[4] ? `${m[1]}${m[4]}` : m[2] !== undefined ? `${m[1]}.${m[2]}` : m[1]!;
    return { major: first, version };
  }
  if (first < 7 || m[2] === undefined) return undefined;
  const major = Number(`${m[1]}.${m[2]}`);
  const version = m[3] !== undefined ? `${m[1]}.${m[2]}.${m[3]}` : m[4] ? `${m[1]}.${m[2]}${m[4]}` : `${m[1]}.${m[2]}`;
  return { major, version };
}

const POSIX_DIRS = [
  '/usr/lib/postgresql/*/bin', // Debian/Ubuntu (call by full path: /usr/bin/pg_dump is a wrapper)
  '/opt/homebrew/opt/postgresql@*/bin', // Homebrew, Apple silicon
  '/opt/homebrew/opt/libpq/bin',
  '/usr/local/opt/postgresql@*/bin', // Homebrew, Intel
  '/usr/local/opt/libpq/bin',
  '/usr/pgsql-*/bin', // PGDG RPMs
];
const WINDOWS_DIRS = ['C:\\Program Files\\PostgreSQL\\*\\bin'];

/** The folders searched by default, before $PGBIN and PATH. */
export function defaultSearchDirs(platform: NodeJS.Platform = process.platform): string[] {
  return platform === 'win32' ? [...WINDOWS_DIRS] : [...POSIX_DIRS];
}

export interface FindClientsOptions {
  /**
   * Folders to look in (a `*` may stand for one path segment). Default: the well-known install
   * folders ({@link defaultSearchDirs}) then $PGBIN. When given, only these are searched (and
   * PATH only if `pathEnv` is given too).
   */
  searchDirs?: string[] | undefined;
  /** PATH to search after the folders. Default: process.env.PATH when searchDirs is not given. */
  pathEnv?: string;
  platform?: NodeJS.Platform;
}

/**
 * Every pg_dump found, in search order, deduplicated by real path. Debian's version-picking
 * wrapper (/usr/bin/pg_dump → pg_wrapper) is skipped: the real binaries are found in
 * /usr/lib/postgresql/N/bin.
 */
export async function findClients(options: FindClientsOptions = {}): Promise<ClientTool[]> {
  const platform = options.platform ?? process.platform;
  const exe = platform === 'win32' ? 'pg_dump.exe' : 'pg_dump';
  const tools: ClientTool[] = [];
  const seen = new Set<string>();
  for (const pattern of searchDirs(options, platform)) {
    for (const dir of await expandDir(pattern)) {
      const file = path.join(dir, exe);
      if (!(await isExecutable(file))) continue;
      let real: string;
      try {
        real = await realpath(file);
      } catch {
        continue;
      }
      if (seen.has(real) || path.basename(real) === 'pg_wrapper') continue;
      seen.add(real);
      const version = await readVersion(file);
      if (version) tools.push({ path: file, ...version });
    }
  }
  return tools;
}

/** The folder patterns {@link findClients} looks in, in order. */
function searchDirs(options: FindClientsOptions, platform: NodeJS.Platform): string[] {
  const dirs: string[] = [];
  if (options.searchDirs) {
    dirs.push(...options.searchDirs);
  } else {
    dirs.push(...defaultSearchDirs(platform));
    if (process.env.PGBIN) dirs.push(process.env.PGBIN);
  }
  const pathEnv = options.pathEnv ?? (options.searchDirs ? undefined : process.env.PATH);
  if (pathEnv) dirs.push(...pathEnv.split(path.delimiter).filter((dir) => dir.length > 0));
  return dirs;
}

async function readVersion(file: string): Promise<{ major: number; version: string } | undefined> {
  const output = await toolOutput(file, ['--version']);
  return output && parseClientVersion(output.stdout);
}

/** True when `file` exists and (outside Windows) may be executed by this process. */
export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, process.platform === 'win32' ? fsConstants.F_OK : fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Expands `*` in whole path segments; newest-looking versions first. */
async function expandDir(pattern: string): Promise<string[]> {
  const sep = pattern.includes('\\') && !pattern.includes('/') ? '\\' : '/';
  const parts = pattern.split(sep);
  const star = parts.findIndex((part) => part.includes('*'));
  if (star === -1) return [pattern];
  const parent = parts.slice(0, star).join(sep) || sep;
  const regex = new RegExp(`^${parts[star]!.split('*').map(escapeRegExp).join('.*')}$`);
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return [];
  }
  const matches = entries.filter((entry) => regex.test(entry)).sort(compareVersionsDesc);
  const out: string[] = [];
  for (const entry of matches) {
    const rest = parts.slice(star + 1);
    const base = parent.endsWith(sep) ? `${parent}${entry}` : `${parent}${sep}${entry}`;
    out.push(...(await expandDir([base, ...rest].join(sep))));
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compareVersionsDesc(a: string, b: string): number {
  const na = Number(/\d+(\.\d+)?/.exec(a)?.[0] ?? NaN);
  const nb = Number(/\d+(\.\d+)?/.exec(b)?.[0] ?? NaN);
  if (!Number.isNaN(na) && !Number.isNaN(nb) && na !== nb) return nb - na;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** ID and VERSION_ID from /etc/os-release; empty when the file cannot be read. */
export async function readOsRelease(file = '/etc/os-release'): Promise<{ id?: string; versionId?: string }> {
  try {
    return parseOsRelease(await readFile(file, 'utf8'));
  } catch {
    return {};
  }
}

/** ID and VERSION_ID of an os-release text, quotes removed. */
export function parseOsRelease(text: string): { id?: string; versionId?: string } {
  const out: { id?: string; versionId?: string } = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^(ID|VERSION_ID)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = m[2]!.replace(/^["']|["']$/g, '');
    if (m[1] === 'ID') out.id = value;
    else out.versionId = value;
  }
  return out;
}
