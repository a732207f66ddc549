/**
 * Random-label (RL) unlearner for unlearnjs: train cross-entropy on the forget set D_f with
 * seeded random labels and on the retain set D_r with the true ones ("Model Sparsity Can
 * Simplify Machine Unlearning", Jia, Liu et al., NeurIPS 2023; by default as the reference
 * code runs it: fresh labels every epoch, a pass over D_f then one over D_r).
 *
 * @remarks Importing this module registers nothing: call {@link registerRl} on a run
 * container (`createContainer({ use: [registerRl] })`) and run it with `runUnlearner(container, 'rl', ...)`.
 * @packageDocumentation
 */
export { registerRl, rlPlugin } from './register.js';
export {
  RlUnlearner,
  rlOptionsSchema,
  randomWrongLabels,
  randomLabelSet,
  type RandomLabelSet,
  type RlOptions,
} from './rl-unlearner.js';
// The reference's per-epoch random labels now live in core (SalUn trains with them too);
// re-exported here so imports from this package keep working.
export { randomLabelPasses, uniformRandomLabels } from '@unlearnjs/core';
