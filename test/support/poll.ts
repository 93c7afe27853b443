/**
 * Waiting in tests by polling a condition, never by a fixed sleep: `condition` is tried every
 * `intervalMs` until it returns true or `timeoutMs` has passed (a generous bound, not a timing
 * assertion). Returns whether it became true, so the test's own expect says what was wanted.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 25 } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Polls `probe` every `intervalMs` until it returns a value other than undefined, and returns that
 * value: for a wait whose result the test uses next.
 * @throws Error `timed out waiting for <what>` when `timeoutMs` passed first (default 30 s).
 */
export async function until<V>(
  what: string,
  probe: () => V | undefined | Promise<V | undefined>,
  { timeoutMs = 30_000, intervalMs = 25 } = {},
): Promise<V> {
  let value: V | undefined;
  const found = await eventually(
    async () => {
      value = await probe();
      return value !== undefined;
    },
    { timeoutMs, intervalMs },
  );
  if (!found || value === undefined) throw new Error(`timed out waiting for ${what}`);
  return value;
}

/**
 * Resolves once the wall clock (Date.now(), ms) has reached `time`, polling it every 10 ms: for a
 * test that needs a later key second or an older backup, a wait for the clock and not a sleep of a
 * guessed length. Never waits more than 10 s past `time`.
 */
export async function clockReaches(time: number): Promise<void> {
  const reached = await eventually(() => Date.now() >= time, {
    timeoutMs: Math.max(0, time - Date.now()) + 10_000,
    intervalMs: 10,
  });
  if (!reached) throw new Error(`the clock did not reach ${new Date(time).toISOString()}`);
}
