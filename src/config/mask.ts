import type { InputReader } from './types.js';

/** Core inputs whose values are secrets: masked before anything else runs. */
export const SECRET_INPUTS = ['database-url', 'password', 's3-secret-access-key'] as const;

/**
 * Every form in which a secret input could reach a log: the raw values, the password inside
 * `database-url` as written and decoded, and the password's URL- and form-encodings.
 * Pure; the caller passes each string to core.setSecret before any other work runs.
 */
export function secretsToMask(read: InputReader): string[] {
  const secrets = new Set<string>();
  const addPassword = (password: string): void => {
    if (password === '') return;
    secrets.add(password);
    secrets.add(encodeURIComponent(password));
    secrets.add(new URLSearchParams({ p: password }).toString().slice(2));
  };
  for (const name of SECRET_INPUTS) {
    const value = read(name).trim();
    if (value === '') continue;
    secrets.add(value);
    if (name === 'password') addPassword(value);
  }
  const url = read('database-url').trim();
  if (url !== '') {
    // The userinfo's password exactly as written (whatever its encoding), then decoded.
    const raw = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@]*)@/i.exec(url)?.[1];
    if (raw !== undefined && raw !== '') {
      secrets.add(raw);
      try {
        addPassword(decodeURIComponent(raw));
      } catch {
        // Malformed escapes: the raw form is masked already.
      }
    }
    for (const param of ['password', 'sslpassword']) {
      const value = /[?&]([^=&]+)=([^&]*)/g;
      for (const match of url.matchAll(value)) {
        if (match[1] === param && match[2]) {
          secrets.add(match[2]);
          try {
            addPassword(decodeURIComponent(match[2]));
          } catch {
            // Malformed escapes: the raw form is masked already.
          }
        }
      }
    }
  }
  return [...secrets].filter((s) => s.length > 0);
}
