/** Two projects: `unit` (pure functions, no servers) and `integration` (real PostgreSQL, S3 server, processes). */
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts', '.yml'],
  moduleFileExtensions: ['js', 'mjs', 'cjs', 'ts', 'json', 'node', 'yml'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    // action.yml's inputs as a module, as the bundle gets them (scripts/action-inputs.mjs).
    '(^|/)action\\.yml$': '<rootDir>/scripts/jest-action-yml.mjs',
  },
};

// TEST_INTEGRATION_ONLY=a,b narrows the integration project to test/integration/{a,b}.test.ts: the
// nested `npm test` of test/integration/fresh-clone.test.ts runs a small named subset that way.
const only = (process.env.TEST_INTEGRATION_ONLY ?? '').split(',').filter(Boolean);

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: only.length
        ? only.map((name) => `<rootDir>/test/integration/${name}.test.ts`)
        : ['<rootDir>/test/integration/**/*.test.ts'],
    },
  ],
};
