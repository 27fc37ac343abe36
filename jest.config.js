// Jest runs our TypeScript as native ES modules (NestJS 12 is ESM-only), so `npm test` starts
// Node with --experimental-vm-modules. A few CommonJS dependencies require ESM-only packages,
// which Node 20 can do natively but Jest's module loader cannot before Node 24.9: those few are
// compiled to CommonJS by SWC on the way in.
const esmOnlyRequiredFromCjs = ['cookie', 'content-disposition'];

// The tests run in a time zone other than UTC, so code that leans on the server's own zone (such
// as `new Date('2025-04-01T10:00:00')`, which reads a time without an offset as local time) fails
// here rather than on a server abroad. Workers inherit it from this process.
process.env.TZ = 'America/New_York';

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnlyRequiredFromCjs.join('|')})/)`],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { swcrc: true }],
    [`node_modules/(${esmOnlyRequiredFromCjs.join('|')})/.+\\.js$`]: [
      '@swc/jest',
      { swcrc: false, module: { type: 'commonjs' }, jsc: { target: 'es2023' } },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
