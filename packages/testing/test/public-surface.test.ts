import * as api from '@unlearnjs/testing';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'LINEAR_SOFTMAX_FEATURES',
    'LINEAR_SOFTMAX_PIXELS',
    'createLinearSoftmaxModel',
    'createRandomImageSet',
    'createSyntheticImageSet',
    'createTinyModel',
    'createTinySplits',
    'createTinyUnlearnData',
    'describeAdapterContract',
    'describeEvaluatorContract',
    'describeModelContract',
    'describePrunerContract',
    'describeUnlearnerContract',
    'expectMaskedWeightsZero',
    'expectNoTensorLeak',
    'expectSparsityMatchesMasks',
    'expectUnlearnError',
    'linearSoftmaxCeGradient',
    'linearSoftmaxDefinition',
    'linearSoftmaxFeatures',
    'linearSoftmaxProbabilities',
    'linearSoftmaxWeights',
    'maxRelativeError',
    'modelState',
    'registerTinyModel',
    'setRandomMasks',
    'subsetLabelList',
    'tinyModelDefinition',
    'tinyModelFactory',
    'tinyModelOptionsSchema',
    'tinyModelPlugin',
    'unlearnDataOf',
  ]);
});
