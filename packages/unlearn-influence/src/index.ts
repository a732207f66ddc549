/**
 * Influence unlearning (IU) for unlearnjs: the one-shot `influence` unlearner of "Model
 * Sparsity Can Simplify Machine Unlearning" (Jia, Liu et al., NeurIPS 2023; reference code
 * `wfisher`), a Newton-like step along a streaming WoodFisher estimate of H⁻¹v that holds
 * three parameter-sized vectors, never all per-sample gradients, and keeps pruned weights at zero.
 *
 * @remarks Importing this module registers nothing: call {@link registerInfluence} on a run
 * container (`createContainer({ use: [registerInfluence] })`).
 * @packageDocumentation
 */
export { registerInfluence, influencePlugin } from './register.js';
export { InfluenceUnlearner, influenceOptionsSchema, type InfluenceOptions, INFLUENCE_VECTORS_HELD } from './influence-unlearner.js';
export {
  influenceGradient,
  perSampleGradients,
  type InfluenceGradientOptions,
  type PerSampleGradientsOptions,
  type PerSampleMethod,
} from './influence-gradient.js';
export { woodFisherSolve, type WoodFisherOptions, type WoodFisherResult } from './woodfisher.js';
export { woodFisherSolveBatched, type WoodFisherBatchedOptions } from './woodfisher-batched.js';
