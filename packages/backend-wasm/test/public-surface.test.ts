import * as api from '@unlearnjs/backend-wasm';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'MAX_WASM_THREADS',
    'SPARSE_CONV_MAX_DENSITY',
    'WASM_HEAP',
    'areWasmTrainingKernelsRegistered',
    'enableWasmThreads',
    'leadingReduction',
    'listWasmTrainingKernels',
    'loadSimdKernels',
    'registerWasmTrainingKernels',
    'setSimdConvGradients',
    'setSimdThreads',
    'setSparseConvMaxDensity',
    'simdKernelsStatus',
    'tileAsBroadcast',
    'unregisterWasmTrainingKernels',
    'wasmTrainingBackend',
  ]);
});
