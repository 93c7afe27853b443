/**
 * Redaction vocabulary: the forms under which the GitHub runner masks a secret, and the same masking
 * for text the runner never sees (issue bodies, comments, webhook payloads, job summaries).
 * Imports nothing from the rooms.
 */

/**
 * The forms under which the GitHub runner masks a registered secret in the log, so that redacting
 * text sent elsewhere (issue bodies, comments, webhook payloads: the runner never sees them) follows
 * the same rules: the secret raw, percent-encoded (URI data escape and form encoding), JSON-string
 * escaped, and base64 at each of the three byte alignments it can take inside a longer base64 text
 * (only the characters that depend on the secret alone). Forms shorter than 4 characters are left
 * out: masking them would garble text without hiding anything.
 */
export function secretForms(secret: string): string[] {
  if (secret === '') return [];
  const forms = new Set<string>([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ p: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
  ]);
  const bytes = Buffer.from(secret, 'utf8');
  for (let shift = 0; shift < 3; shift++) {
    const text = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    // Characters wholly made of the secret's bits: after the shift's bits, before the last partial sextet.
    forms.add(text.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6)));
  }
  return [...forms].filter((form) => form.length >= 4);
}

/**
 * `text` with every secret replaced by `***` in each form the runner masks in the log
 * ({@link secretForms}: raw, percent-encoded, JSON-escaped, base64; 4 characters or more), longest
 * first so that a form containing a shorter one is not left half-replaced. Issue bodies, comments
 * and webhook payloads never pass through the runner's masking: this is their masking.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  const forms = new Set(secrets.flatMap((secret) => secretForms(secret)));
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join('***');
  return out;
}
