/**
 * Retrain unlearner for unlearnjs: re-initialise the model (pruning masks kept) and train
 * from scratch on the retain set D_r — the gold standard every other unlearner is compared
 * with ("Model Sparsity Can Simplify Machine Unlearning", Jia, Liu et al., NeurIPS 2023).
 *
 * @remarks Importing this module registers nothing: call {@link registerRetrain} on a run
 * container (`createContainer({ use: [registerRetrain] })`) and run it with
 * `runUnlearner(container, 'retrain', ...)`.
 * @packageDocumentation
 */
export { registerRetrain, retrainPlugin } from './register.js';
export {
  RetrainUnlearner,
  defaultRetrainMilestones,
  retrainOptionsSchema,
  retrainSchedule,
  type RetrainOptions,
} from './retrain-unlearner.js';
