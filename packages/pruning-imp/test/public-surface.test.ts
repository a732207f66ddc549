import * as api from '@unlearnjs/pruning-imp';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'ImpPruner',
    'OmpPruner',
    'PRUNE_REWIND_KIND',
    'PRUNE_ROUND_KIND',
    'RandomPruner',
    'SynflowPruner',
    'applyGlobalMagnitudePruning',
    'formatSparsity',
    'globalMagnitudeMasks',
    'impOptionsSchema',
    'impPlugin',
    'ompOptionsSchema',
    'ompPlugin',
    'pruneCheckpointFiles',
    'randomMasks',
    'randomPlugin',
    'randomPrunerOptionsSchema',
    'registerPruningImp',
    'roundTrainingFields',
    'roundTrainingSchema',
    'sparsityReport',
    'synflowMasks',
    'synflowOptionsSchema',
    'synflowPlugin',
    'synflowScores',
  ]);
});
