/**
 * One Jest configuration for the whole monorepo. Tests import workspace packages from their
 * TypeScript sources (no build needed); tests that spawn child processes use the built `dist/`
 * output, which `npm test` builds first.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/examples'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  moduleNameMapper: {
    '^@learning-observer/examples$': '<rootDir>/examples/src',
    '^@learning-observer/([^/]+)$': '<rootDir>/packages/$1/src',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  testTimeout: 60000,
  maxWorkers: 2,
};
