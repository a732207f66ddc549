import * as api from '@unlearnjs/cli';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'FIRST_PARTY_PLUGINS',
    'REFERENCE_DEFAULTS',
    'REFERENCE_FLAGS',
    'REFERENCE_METHODS',
    'createProgram',
    'loadPluginPackages',
    'main',
    'normaliseFlags',
    'presetConfig',
    'resolveMethod',
    'runPipeline',
    'runPipelineShard',
  ]);
});
