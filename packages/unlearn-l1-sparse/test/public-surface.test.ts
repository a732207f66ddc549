import * as api from '@unlearnjs/unlearn-l1-sparse';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'L1SparseUnlearner',
    'l1Alpha',
    'l1AlphaSchedule',
    'l1Norm',
    'l1SparseOptionsSchema',
    'l1SparsePlugin',
    'registerL1Sparse',
  ]);
});
