/**
 * Pruning for unlearnjs, as in "Model Sparsity Can Simplify Machine Unlearning" (Jia et al.,
 * NeurIPS 2023): global unstructured magnitude pruning, the `omp` (one-shot) and `imp`
 * (iterative, lottery ticket with rewinding) pruners with per-round checkpoints and resume,
 * and the data-free `random` and `synflow` pruners.
 *
 * @remarks Importing this module registers nothing: call {@link registerPruningImp} on a run
 * container (`createContainer({ use: [registerPruningImp] })`).
 * @packageDocumentation
 */
export { impPlugin, ompPlugin, randomPlugin, registerPruningImp, synflowPlugin } from './register.js';
export {
  type GlobalMagnitudeOptions,
  globalMagnitudeMasks,
  applyGlobalMagnitudePruning,
} from './global-magnitude-masks.js';
export { type FormatSparsityOptions, sparsityReport, formatSparsity } from './sparsity-report.js';
export { PRUNE_ROUND_KIND, PRUNE_REWIND_KIND, pruneCheckpointFiles } from './lottery-rounds.js';
export { roundTrainingFields, roundTrainingSchema, type RoundTraining } from './round-training-options.js';
export { type OmpOptions, type ResolvedOmpOptions, ompOptionsSchema, OmpPruner } from './omp-pruner.js';
export { type ImpOptions, type ResolvedImpOptions, impOptionsSchema, ImpPruner } from './imp-pruner.js';
export {
  type RandomMasksOptions,
  type RandomPrunerOptions,
  type ResolvedRandomPrunerOptions,
  randomMasks,
  randomPrunerOptionsSchema,
  RandomPruner,
} from './random-pruner.js';
export {
  type SynflowScoreOptions,
  type SynflowMasksOptions,
  type SynflowOptions,
  type ResolvedSynflowOptions,
  synflowScores,
  synflowMasks,
  synflowOptionsSchema,
  SynflowPruner,
} from './synflow-pruner.js';
