import { defineConfig } from 'vitest/config';

// Tests run from source: the `@unlearnjs/source` export condition points every workspace
// package at its `src/*.ts`, so no build is needed (delete every dist/ and they still pass).
const conditions = ['@unlearnjs/source', 'import', 'module', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@unlearnjs/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'docs/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core machines: more workers only fight over the same cores.
    maxWorkers: 2,
  },
});
