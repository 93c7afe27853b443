/** The log sink every room writes to; the action maps it to @actions/core (main.ts). */

/** Log sink and phase grouping (core.info / core.warning / core.group in the action). */
export interface Log {
  info(message: string): void;
  warning(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}
