import { REPORTING_INPUTS } from './reporting.js';
import { RETENTION_INPUTS } from './retention.js';
import { ENCRYPTION_INPUTS } from './encryption.js';
import { RESTORE_INPUTS } from './restore.js';

/** An input as declared in action.yml, for the modules that own their inputs. */
export interface InputSpec {
  name: string;
  default: string;
  description: string;
}

/**
 * The core inputs and their defaults, mirrored from action.yml (the source of truth the runner
 * applies). A unit test keeps the two in step; the parser applies these defaults when an input is
 * empty, so the bundle behaves the same when run outside a runner (tests, the demo).
 */
export const CORE_INPUT_DEFAULTS = {
  command: 'backup',
  'database-url': '',
  host: '',
  port: '5432',
  username: '',
  password: '',
  database: '',
  sslmode: '',
  destination: '',
  's3-endpoint': '',
  's3-region': 'us-east-1',
  's3-force-path-style': 'auto',
  's3-storage-class': '',
  's3-sse': '',
  's3-sse-kms-key-id': '',
  's3-access-key-id': '',
  's3-secret-access-key': '',
  's3-checksums': 'auto',
  's3-timeout': '120',
  format: 'custom',
  compression: 'zstd',
  jobs: '1',
  schema: '',
  'exclude-schema': '',
  table: '',
  'exclude-table': '',
  'exclude-table-data': '',
  'schema-only': 'false',
  'data-only': 'false',
  'no-owner': 'false',
  'no-privileges': 'false',
  globals: 'false',
  'pg-dump-args': '',
  'lock-wait-timeout': '5min',
  label: '',
  'row-counts': 'exact',
  'install-client': 'true',
  'client-version': 'auto',
  summary: 'true',
} as const satisfies Record<string, string>;

export type InputName = keyof typeof CORE_INPUT_DEFAULTS;

/** Inputs owned by other modules (failure reporting, …), each declared in action.yml too. */
export const MODULE_INPUTS: readonly InputSpec[] = [
  ...RETENTION_INPUTS,
  ...ENCRYPTION_INPUTS,
  ...RESTORE_INPUTS,
  ...REPORTING_INPUTS,
];

/** Every input's default, by name. */
export const INPUT_DEFAULTS: Readonly<Record<string, string>> = {
  ...CORE_INPUT_DEFAULTS,
  ...Object.fromEntries(MODULE_INPUTS.map((i) => [i.name, i.default])),
};

/**
 * Wraps a raw reader (core.getInput) so that values are trimmed and an empty input takes its
 * action.yml default, as the runner would. A default that is a workflow expression
 * (`${{ github.token }}`) cannot be evaluated here and reads as ''.
 */
export function withDefaults(raw: (name: string) => string): (name: string) => string {
  return (name) => {
    const value = raw(name).trim();
    if (value !== '') return value;
    const fallback = INPUT_DEFAULTS[name] ?? '';
    return fallback.includes('${{') ? '' : fallback;
  };
}
