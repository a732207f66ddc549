/**
 * Fisher forgetting (FF) for unlearnjs: the one-shot `fisher` unlearner of "Model Sparsity Can
 * Simplify Machine Unlearning" (Jia, Liu et al., NeurIPS 2023; reference code `fisher_new`),
 * which adds Gaussian noise scaled by the inverse of a diagonal Fisher/Hessian estimate on the
 * retain set, keeping pruned weights at zero.
 *
 * @remarks Importing this module registers nothing: call {@link registerFisher} on a run
 * container (`createContainer({ use: [registerFisher] })`).
 * @packageDocumentation
 */
export { registerFisher, fisherPlugin } from './register.js';
export { FisherUnlearner, fisherOptionsSchema, type FisherOptions, type FisherLayerStats } from './fisher-unlearner.js';
export {
  fisherDiagonal,
  type FisherDiagonal,
  type FisherDiagonalOptions,
  type FisherMethod,
  type FisherReduction,
} from './fisher-diagonal.js';
export {
  fisherPosterior,
  inputAxisOf,
  type FisherPosterior,
  type FisherPosteriorOptions,
  FISHER_EPSILON,
  FISHER_VARIANCE_CAP,
  FISHER_CLASSIFIER_VARIANCE_CAP,
  FISHER_FORGOTTEN_CLASS_VARIANCE,
  FISHER_SMALL_PARAM_FACTOR,
} from './fisher-posterior.js';
