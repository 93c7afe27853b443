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
