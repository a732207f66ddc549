/**
 * Random-label (RL) unlearner for unlearnjs: give each forget sample a seeded random wrong
 * label and train cross-entropy on D_f ∪ D_r ("Model Sparsity Can Simplify Machine
 * Unlearning", Jia, Liu et al., NeurIPS 2023).
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
