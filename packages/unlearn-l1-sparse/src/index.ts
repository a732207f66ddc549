/**
 * l1-sparse unlearner for unlearnjs: fine-tune on the retain set with CE + α_t·‖θ‖₁, α_t
 * decaying linearly to 0 — the sparsity-aware unlearning of "Model Sparsity Can Simplify
 * Machine Unlearning" (Jia, Liu et al., NeurIPS 2023).
 *
 * @remarks Importing this module registers nothing: call {@link registerL1Sparse} on a run
 * container (`createContainer({ use: [registerL1Sparse] })`) and run it with
 * `runUnlearner(container, 'l1-sparse', ...)`.
 * @packageDocumentation
 */
export { registerL1Sparse, l1SparsePlugin } from './register.js';
export {
  L1SparseUnlearner,
  l1SparseOptionsSchema,
  l1Alpha,
  l1AlphaSchedule,
  l1Norm,
  type L1SparseOptions,
} from './l1-sparse-unlearner.js';
