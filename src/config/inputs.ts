/**
 * The action's inputs and their defaults, mirrored from action.yml (the source of truth the runner
 * applies). A unit test keeps the two in step; the parser applies these defaults when an input is
 * empty, so the bundle behaves the same when run outside a runner (tests, the demo).
 */
export const INPUT_DEFAULTS = {
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
  label: '',
  'row-counts': 'exact',
  'install-client': 'true',
  'client-version': 'auto',
  summary: 'true',
} as const satisfies Record<string, string>;

export type InputName = keyof typeof INPUT_DEFAULTS;

/** Inputs whose values are secrets: masked before anything else runs. */
export const SECRET_INPUTS: readonly InputName[] = ['database-url', 'password', 's3-secret-access-key'];
