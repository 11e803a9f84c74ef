/** One jest run covers every server package and the end-to-end tests (see README "Tests"). */
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', isolatedModules: true }];
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': tsJest },
  testTimeout: 60_000,
  roots: ['<rootDir>/protocol', '<rootDir>/registry', '<rootDir>/service-shell', '<rootDir>/sfu', '<rootDir>/signaling', '<rootDir>/api', '<rootDir>/web', '<rootDir>/loadtest', '<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
};
