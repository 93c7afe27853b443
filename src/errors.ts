/**
 * Typed errors. Every error the action raises on purpose is an {@link ActionError}: its message says
 * what went wrong and how to fix it, and `phase` names where (config, connect, client, dump, upload,
 * verify, manifest) so reports can say which phase failed.
 */
export type Phase =
  | 'config'
  | 'connect'
  | 'client'
  | 'dump'
  | 'upload'
  | 'verify'
  | 'manifest'
  | 'prune'
  | 'encrypt'
  | 'decrypt'
  | 'select'
  | 'restore'
  | 'drill'
  | 'check';

export class ActionError extends Error {
  constructor(
    message: string,
    readonly phase: Phase,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad input. `input` is the action input's name as written in action.yml. */
export class ConfigError extends ActionError {
  constructor(
    readonly input: string,
    problem: string,
  ) {
    super(`Input '${input}': ${problem}`, 'config');
  }
}

/** The server cannot be reached or refuses us (before any dump starts). */
export class ConnectionError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'connect', options);
  }
}

/** No pg_dump of a suitable major version could be found or installed. */
export class ClientInstallError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'client', options);
  }
}

/** pg_dump (or pg_dumpall, or a compressor in the stream) failed. */
export class DumpError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'dump', options);
  }
}

/**
 * Encryption of the archive failed inside the stream (OpenPGP.js, or the gpg child): a failed dump
 * stream, so a failed backup.
 */
export class EncryptError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'encrypt', options);
  }
}

/** Writing to the destination failed; nothing was left under the final key. */
export class UploadError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'upload', options);
  }
}

/** The stored archive does not match what was streamed. */
export class VerifyError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'verify', options);
  }
}

/** `command: prune` or `list` could not do its work (after a backup, prune problems only warn). */
export class PruneError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'prune', options);
  }
}

/** Message of any thrown value, for logs. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
