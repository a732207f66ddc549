/**
 * LoRA adapters for unlearnjs models: the base weights W are frozen and each adapted kernel
 * trains a low-rank update, W' = W + M ⊙ (α/r)·A·B, where M is the weight's pruning mask, so
 * merging the update back keeps the model exactly as sparse as it was.
 *
 * @remarks Follows the ViT + LoRA extension of "Model Sparsity Can Simplify Machine
 * Unlearning" (rank 64, alpha 16, dropout 0.1, classifier trainable). Conv kernels are adapted
 * in their flattened `[kh·kw·in, out]` form. "FT + LoRA" is FT on a model with LoRA attached.
 * @example
 * ```ts
 * const container = createContainer({ seed: 0, use: [registerLora] });
 * const lora = attachAdapter(container, 'lora', model, { rank: 8 });
 * await runUnlearner(container, 'ft', { model, data });
 * lora.merge();
 * ```
 * @packageDocumentation
 */
export {
  type LoraOptions,
  type LoraOptionsInput,
  loraOptionsSchema,
  defaultLoraTargets,
  compileTargetPattern,
} from './lora-options.js';
export { type LoraTarget, type AttachedLora, LORA_PARAM_PREFIX, resolveLoraTargets, attachLora } from './attach-lora.js';
export { loadLoraState } from './load-lora-state.js';
export { type LoraAdapter, loraAdapter } from './lora-adapter.js';
export { loraPlugin, registerLora } from './register.js';
