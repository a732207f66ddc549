import * as api from '@unlearnjs/unlearn-influence';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'INFLUENCE_VECTORS_HELD',
    'InfluenceUnlearner',
    'influenceGradient',
    'influenceOptionsSchema',
    'influencePlugin',
    'perSampleGradients',
    'registerInfluence',
    'woodFisherSolve',
    'woodFisherSolveBatched',
  ]);
});
