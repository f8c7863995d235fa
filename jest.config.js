/**
 * Jest runs the TypeScript sources directly as ES modules (ts-jest, transpile only; `npm run typecheck` type-checks).
 * Tests that need root, network namespaces or a lab are named `*.integration.test.ts`; `npm run test:unit` leaves
 * them out (MESHPROBE_TEST_TIER=unit), `npm test` runs everything.
 */
const unitOnly = process.env.MESHPROBE_TEST_TIER === 'unit';

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...(unitOnly ? ['\\.integration\\.test\\.ts$'] : [])],
  testTimeout: 30000,
  maxWorkers: 2,
};
