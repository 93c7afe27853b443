import { INPUT_DEFAULTS } from './action-inputs.js';

export { INPUT_DEFAULTS } from './action-inputs.js';

/**
 * Wraps a raw reader (core.getInput) so that values are trimmed and an empty input takes its
 * action.yml default, as the runner would: the bundle then behaves the same when run outside a
 * runner (tests, the demo). A default that is a workflow expression (`${{ github.token }}`) cannot
 * be evaluated here and reads as ''.
 */
export function withDefaults(raw: (name: string) => string): (name: string) => string {
  return (name) => {
    const value = raw(name).trim();
    if (value !== '') return value;
    const fallback = INPUT_DEFAULTS[name] ?? '';
    return fallback.includes('${{') ? '' : fallback;
  };
}
