/** The log sink every room writes to; the action maps it to @actions/core (main.ts). */

/** Log sink and phase grouping (core.info / core.warning / core.group in the action). */
export interface Log {
  info(message: string): void;
  warning(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Where progress lines of long transfers go, when not to `info` every 15 s: a terminal redraws
   * one line every second.
   */
  progress?: ProgressSink;
}

/** A live progress line: `update` replaces the previous line, `done` ends it. */
export interface ProgressSink {
  /** Milliseconds between two updates. */
  intervalMs: number;
  update(line: string): void;
  done(): void;
}
