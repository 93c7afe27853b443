/** What the runner hands each command, and what a command hands back. */
import type { Host } from '../host.js';

/** What a command hands back for the outcome report. */
export interface CommandOutcome {
  backupKey?: string;
}

/** What every command's run shares: the host, the cancel signal, and the secrets redacted from the job summary. */
export interface RunContext {
  host: Host;
  signal: AbortSignal;
  secrets: readonly string[];
}
