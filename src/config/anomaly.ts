/**
 * The anomaly inputs (`anomaly`, `max-row-drop`) of `command: backup` and `check`. The `anomaly`
 * default differs per command, so action.yml declares it empty and this module supplies it: `warn`
 * after a backup (the backup itself is sound; a later normal backup clears it), `fail` in `check`
 * (its job is to turn red).
 */
import { ConfigError } from '../errors.js';
import { ANOMALY_MODES, type AnomalyPolicy } from '../retention/anomaly.js';
import type { Command } from './types.js';
import { oneOf } from './values.js';

/** `anomaly` when unset, per command. */
export const ANOMALY_DEFAULT: Readonly<Partial<Record<Command, AnomalyPolicy['mode']>>> = {
  backup: 'warn',
  check: 'fail',
};

/**
 * Parses `anomaly` (warn | fail; empty: the command's {@link ANOMALY_DEFAULT}) and `max-row-drop`
 * (a fraction in (0, 1], e.g. `0.5`). Validated for every command. Pure apart from `input`.
 * @throws ConfigError naming `anomaly` or `max-row-drop`.
 */
export function parseAnomalyInputs(input: (name: string) => string, command: Command): AnomalyPolicy {
  const raw = input('anomaly');
  const mode = raw === '' ? (ANOMALY_DEFAULT[command] ?? 'warn') : oneOf('anomaly', raw, ANOMALY_MODES);
  const drop = input('max-row-drop') || '0.5';
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(drop)) {
    throw new ConfigError(
      'max-row-drop',
      `'${drop}' is not a number; use the fraction of a table's rows that may disappear between two backups, greater than 0 and at most 1, e.g. 0.5.`,
    );
  }
  const maxRowDrop = Number(drop);
  if (!(maxRowDrop > 0 && maxRowDrop <= 1)) {
    throw new ConfigError(
      'max-row-drop',
      `${drop} is out of range; use a number greater than 0 and at most 1, e.g. 0.5 (1 flags only vanished tables).`,
    );
  }
  return { mode, maxRowDrop };
}
