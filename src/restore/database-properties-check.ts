/**
 * The drill's verdict on a restored database's own properties against the recorded ones
 * (manifest `databaseProperties`): one {@link Check} per property. Setting values are compared but
 * never shown: a check shows setting names and a short digest.
 */
import { createHash } from 'node:crypto';
import type { Check } from '../manifest.js';
import type { DatabaseProperties } from '../postgres/database-properties.js';
import { parseAclItem, type LocalePart } from './database-sql.js';

/** How the restored database came to be, which decides what a difference means. */
export interface PropertyCompareOptions {
  /**
   * False when the database existed before the run (a drill into an existing empty database): the
   * run did not set its properties, so a difference is a passed check with a note. Default true.
   */
  created?: boolean;
  /** Roles absent on the target: the owner or ACL items naming them are notes, not failures. */
  missingRoles?: readonly string[];
  /** Per-role settings were applied (restore-globals); otherwise they are not checked. Default false. */
  roleSettings?: boolean;
  /** Parts left out by `database-properties: best-effort` (or all, with `none`). */
  skipped?: readonly (LocalePart | 'all')[];
}

/** `n name(s): a, b (digest)`: enough to tell two lists apart without showing values. */
function describeSettings(settings: readonly string[]): string {
  if (settings.length === 0) return 'none';
  const names = settings.map((s) => s.split('=')[0]).join(', ');
  const digest = createHash('sha256').update(settings.join('\n')).digest('hex').slice(0, 8);
  return `${names} (${digest})`;
}

/** An aclitem without its grantor (grants are re-made by the restoring role; the grantor then differs). */
function aclKey(text: string): string {
  const item = parseAclItem(text);
  return `${item.grantee ?? 'PUBLIC'}=${[...item.privileges].sort().join('')}${item.grantable ? `*${[...item.grantable].sort().join('')}` : ''}`;
}

function short(text: string | null): string {
  if (text === null) return 'none';
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/**
 * Compares `recorded` (the manifest) with `restored` (read from the restored database by
 * readDatabaseProperties). Pure. Each Check is named `database <property>`.
 */
export function compareDatabaseProperties(
  recorded: DatabaseProperties,
  restored: DatabaseProperties,
  options: PropertyCompareOptions = {},
): Check[] {
  const created = options.created ?? true;
  const skipped = options.skipped ?? [];
  const missing = new Set(options.missingRoles ?? []);
  const checks: Check[] = [];
  // A note makes a difference pass (it is explained), unless `strict`: then it only explains what was compared.
  const add = (
    name: string,
    expected: string | number,
    actual: string | number,
    note?: string,
    strict = false,
  ): void => {
    const equal = expected === actual;
    const why = !equal && !created ? 'the database existed before the run, which does not set its properties' : note;
    checks.push({
      name: `database ${name}`,
      expected,
      actual,
      passed: equal || !created || (note !== undefined && !strict),
      ...(why && !equal ? { note: why } : {}),
    });
  };
  const leftOut = (part: LocalePart): string | undefined =>
    skipped.includes(part) || skipped.includes('all') ? 'left out by database-properties' : undefined;
  add('encoding', recorded.encoding, restored.encoding, leftOut('encoding'));
  add('locale provider', recorded.localeProvider, restored.localeProvider, leftOut('locale'));
  add('LC_COLLATE', recorded.collate, restored.collate, leftOut('locale'));
  add('LC_CTYPE', recorded.ctype, restored.ctype, leftOut('locale'));
  add('locale', recorded.locale ?? 'none', restored.locale ?? 'none', leftOut('locale'));
  add('ICU rules', short(recorded.icuRules), short(restored.icuRules), leftOut('locale'));
  const all = skipped.includes('all') ? 'left out by database-properties: none' : undefined;
  add(
    'owner',
    recorded.owner,
    restored.owner,
    all ?? (missing.has(recorded.owner) ? `role ${recorded.owner} does not exist on the target` : undefined),
  );
  add('comment', short(recorded.comment), short(restored.comment), all);
  add('connection limit', recorded.connectionLimit, restored.connectionLimit, all);
  add('settings', describeSettings(recorded.settings), describeSettings(restored.settings), all);
  const expectedAcl = recorded.acl?.map(aclKey).filter((k) => !missing.has(k.split('=')[0] ?? '')) ?? null;
  const acl = (items: string[] | null): string => (items === null ? 'default' : [...items].sort().join(' '));
  const droppedAcl = (recorded.acl?.length ?? 0) !== (expectedAcl?.length ?? 0);
  add(
    'ACL',
    acl(expectedAcl),
    acl(restored.acl?.map(aclKey) ?? null),
    all ?? (droppedAcl ? 'grants to roles missing on the target were left out' : undefined),
    all === undefined,
  );
  if (options.roleSettings) {
    const perRole = (p: DatabaseProperties): string =>
      p.roleSettings
        .filter((r) => !missing.has(r.role))
        .map((r) => `${r.role}: ${describeSettings(r.settings)}`)
        .join('; ') || 'none';
    add('per-role settings', perRole(recorded), perRole(restored), all);
  }
  return checks;
}
