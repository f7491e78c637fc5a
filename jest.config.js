// Two tiers: `unit` is fast and touches nothing outside the process; `integration` drives real
// components (moto_server, Packer, Docker, s3fs, MapServer) and runs one file at a time.
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: { isolatedModules: true } }],
};
const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/action/test/support/sdk-notice.ts'],
};

export default {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/action/test/unit/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/action/test/integration/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/action/test/support/integration-setup.ts'],
    },
  ],
};
