import * as api from '@unlearnjs/unlearn-scrub';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'ScrubUnlearner',
    'distillKl',
    'registerScrub',
    'scrubOptionsSchema',
    'scrubPass',
    'scrubPlugin',
  ]);
});
