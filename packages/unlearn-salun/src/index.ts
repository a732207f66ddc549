/**
 * SalUn unlearner for unlearnjs ("SalUn: Empowering Machine Unlearning via Gradient-based
 * Weight Saliency in Both Image Classification and Generation", Fan, Liu et al., ICLR 2024;
 * code OPTML-Group/Unlearn-Saliency): a weight-saliency mask from the gradient of the forgetting
 * loss on D_f, then random-label unlearning that changes only the salient weights.
 *
 * @remarks Built only on the public API of `@unlearnjs/core`, as a third-party plugin would be.
 * Importing this module registers nothing: call {@link registerSalun} on a run container
 * (`createContainer({ use: [registerSalun] })`) and run it with `runUnlearner(container, 'salun', ...)`.
 * @packageDocumentation
 */
export { registerSalun, salunPlugin } from './register.js';
export { salunOptionsSchema, type SalunOptions } from './salun-options.js';
export {
  saliencyScores,
  saliencyMask,
  disposeSaliencyMask,
  type SaliencyMask,
  type SaliencyScoresOptions,
} from './saliency-map.js';
export { SalunUnlearner, salunEpochPasses } from './salun-unlearner.js';
