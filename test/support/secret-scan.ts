/**
 * Finds a secret in text sent over a channel the runner does not mask (issue bodies, comments,
 * webhook payloads), in every encoding it could take there: raw, percent-encoded, form-encoded,
 * JSON-string escaped, and base64 at each of the three byte alignments inside a longer base64 text.
 * The fake GitHub API and the webhook receiver scan every request body with it.
 */

/** Every encoding of `secret` worth looking for (each at least 6 characters). */
export function secretEncodings(secret: string): string[] {
  const forms = new Set<string>([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    // A JSON body holding JSON text (e.g. an error that quotes a JSON answer): escaped twice.
    JSON.stringify(JSON.stringify(secret).slice(1, -1)).slice(1, -1),
  ]);
  const bytes = Buffer.from(secret, 'utf8');
  for (let shift = 0; shift < 3; shift++) {
    const text = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    forms.add(text.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6)));
  }
  return [...forms].filter((form) => form.length >= 6);
}

/** `where: "form"` for each encoding of each secret found in `text`. */
export function scanForSecrets(where: string, text: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    for (const form of secretEncodings(secret))
      if (text.includes(form)) found.push(`${where}: ${JSON.stringify(form)}`);
  }
  return found;
}
