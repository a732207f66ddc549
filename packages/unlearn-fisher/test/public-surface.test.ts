import * as api from '@unlearnjs/unlearn-fisher';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'FISHER_CLASSIFIER_VARIANCE_CAP',
    'FISHER_EPSILON',
    'FISHER_FORGOTTEN_CLASS_VARIANCE',
    'FISHER_SMALL_PARAM_FACTOR',
    'FISHER_VARIANCE_CAP',
    'FisherUnlearner',
    'fisherDiagonal',
    'fisherOptionsSchema',
    'fisherPlugin',
    'fisherPosterior',
    'inputAxisOf',
    'registerFisher',
  ]);
});
