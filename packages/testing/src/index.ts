/**
 * Test harness of unlearnjs: public contract suites that every first- and third-party plugin
 * runs in one line, helpers for tensor-leak and error-code checks, and tiny fixtures built in
 * code (a learnable synthetic image set, splits, a tiny model plugin, and a linear softmax model
 * with closed-form references for gradient checks).
 *
 * @remarks `vitest` is a peer dependency: the `describe*Contract` functions declare vitest
 * `describe`/`it` blocks and must be called at the top level of a test file. Every suite uses
 * fresh containers (`createContainer({ seed, use })`), never the global one, and selects the
 * `cpu` (default) or `wasm` backend in a `beforeAll`.
 * @example
 * ```ts
 * import { describeUnlearnerContract } from '@unlearnjs/testing';
 * describeUnlearnerContract({ plugin: shrinkPlugin, use: [registerShrink], validOptions: { rate: 0.1 }, invalidOptions: [['rate 2', { rate: 2 }]] });
 * ```
 * @packageDocumentation
 */
export { type SyntheticImageSetOptions, createSyntheticImageSet } from './fixtures/synthetic-image-set.js';
export { type TinySplitsOptions, createTinySplits, createTinyUnlearnData, unlearnDataOf } from './fixtures/tiny-splits.js';
export {
  type TinyModelOptions,
  tinyModelOptionsSchema,
  tinyModelDefinition,
  createTinyModel,
  tinyModelFactory,
  tinyModelPlugin,
  registerTinyModel,
} from './fixtures/tiny-model.js';
export {
  LINEAR_SOFTMAX_PIXELS,
  LINEAR_SOFTMAX_FEATURES,
  linearSoftmaxDefinition,
  createLinearSoftmaxModel,
  createRandomImageSet,
  linearSoftmaxFeatures,
  subsetLabelList,
  linearSoftmaxWeights,
  linearSoftmaxProbabilities,
  linearSoftmaxCeGradient,
  maxRelativeError,
} from './fixtures/linear-softmax.js';
export { expectNoTensorLeak } from './expect-no-tensor-leak.js';
export { expectUnlearnError } from './expect-unlearn-error.js';
export { type ModelState, modelState, setRandomMasks, expectMaskedWeightsZero } from './model-checks.js';
export type { ContractBackend, ContractModel, ContractOptions, PluginContractConfig } from './contracts/contract-setup.js';
export { type UnlearnerContractConfig, describeUnlearnerContract } from './contracts/describe-unlearner-contract.js';
export {
  type PrunerContractConfig,
  describePrunerContract,
  expectSparsityMatchesMasks,
} from './contracts/describe-pruner-contract.js';
export { type AdapterContractConfig, describeAdapterContract } from './contracts/describe-adapter-contract.js';
export { type EvaluatorContractConfig, describeEvaluatorContract } from './contracts/describe-evaluator-contract.js';
export { type ModelContractConfig, describeModelContract } from './contracts/describe-model-contract.js';
