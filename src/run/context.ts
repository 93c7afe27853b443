/** What the runner hands each command, and what a command hands back. */
import type { Host } from '../host.js';

/** What a command hands back for the outcome report. */
export interface CommandOutcome {
  backupKey?: string;
}

/**
 * Facts about this machine's tools found once for a run over several databases (run/databases.ts):
 * the client search for a major and the stdbuf probe of a pg_dump, each a promise of its first
 * answer (a failed one is forgotten, so the next database asks again).
 */
export interface ToolProbes {
  clients: Map<string, Promise<unknown>>;
  stdbuf: Map<string, Promise<string | undefined>>;
}

/** What every command's run shares: the host, the cancel signal, and the secrets redacted from the job summary. */
export interface RunContext {
  host: Host;
  signal: AbortSignal;
  secrets: readonly string[];
  /** Shared by the databases of one run; undefined for one database (every probe asked afresh). */
  probes?: ToolProbes;
}
