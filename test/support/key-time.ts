/** The UTC time written into an object key (`…/2026-05-01T030000Z-label.dump…`), whole seconds. */
export function keyTime(key: string): Date {
  const m = /\/(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})Z[.-]/.exec(key);
  if (!m) throw new Error(`no time in key ${key}`);
  const [, y, mo, d, h, mi, s] = m.map<number>(Number);
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
}
