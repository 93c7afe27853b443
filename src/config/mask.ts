import { secretForms } from '../redact.js';
import type { InputReader } from './reader.js';

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

/**
 * The credentials inside any input value that holds a URL (or `user:password@host`) with a password,
 * or a `password=` / `sslpassword=` query parameter, whatever the input (host, destination,
 * s3-endpoint, webhook-url, target-host, …): each such line as written, the password as
 * written and decoded (both readings of a password holding `@` unencoded), each in every
 * {@link secretForms} form. Pure; the caller masks each string before any other work.
 */
export function urlCredentialSecrets(read: InputReader, names: readonly string[]): string[] {
  const secrets = new Set<string>();
  const addPassword = (raw: string): void => {
    if (raw === '') return;
    for (const form of secretForms(raw)) secrets.add(form);
    try {
      for (const form of secretForms(decodeURIComponent(raw))) secrets.add(form);
    } catch {
      // Malformed escapes: the raw form is masked already.
    }
  };
  for (const name of names) {
    const value = read(name).trim();
    if (value === '') continue;
    for (const token of value.split(/\s+/)) {
      const passwords: string[] = [];
      // The authority: after `scheme://` (if any), up to the path, query or fragment.
      const rest = token.slice(/^[a-z][a-z0-9+.-]*:\/\//i.test(token) ? token.indexOf('://') + 3 : 0);
      const authority = rest.slice(0, rest.search(/[/?#]|$/));
      const colon = authority.indexOf(':');
      const firstAt = authority.indexOf('@');
      if (colon !== -1 && firstAt > colon) {
        // URL parsers split at the last '@'; a password with an unencoded '@' may be meant up to the first.
        passwords.push(authority.slice(colon + 1, authority.lastIndexOf('@')), authority.slice(colon + 1, firstAt));
      }
      for (const param of token.matchAll(/[?&](?:password|sslpassword)=([^&#\s]*)/gi))
        if (param[1]) passwords.push(param[1]);
      if (passwords.length === 0) continue;
      // The line that holds it (not a whole multi-line value: its other lines are no secret).
      secrets.add(token);
      for (const password of passwords) addPassword(password);
    }
  }
  return [...secrets].filter((s) => s.length > 0);
}
