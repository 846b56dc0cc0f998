/**
 * One Jest configuration for the whole monorepo. Tests import workspace packages from their
 * TypeScript sources (no build needed); tests that spawn child processes use the built `dist/`
 * output, which `npm test` builds first.
 *
 * Two sets: by default every test except the heavy ones (`*.heavy.test.ts`: several processes
 * saturating both cores for minutes); `LO_TEST_SET=heavy` runs only those, one file at a time.
 * `npm test` runs both, one after the other, so the heavy tests never slow the timing-sensitive ones.
 * @type {import('jest').Config}
 */
const heavy = process.env.LO_TEST_SET === 'heavy';
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/examples'],
  testMatch: heavy ? ['**/test/**/*.heavy.test.ts'] : ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', ...(heavy ? [] : ['\\.heavy\\.test\\.ts$'])],
  moduleNameMapper: {
    '^@learning-observer/examples$': '<rootDir>/examples/src',
    '^@learning-observer/([^/]+)$': '<rootDir>/packages/$1/src',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  testTimeout: 60000,
  maxWorkers: heavy ? 1 : 2,
};
