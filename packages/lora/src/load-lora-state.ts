import * as tf from '@tensorflow/tfjs-core';
import { type CheckpointData, type Model, UnlearnError } from '@unlearnjs/core';
import { LORA_PARAM_PREFIX } from './attach-lora.js';

/**
 * Load the LoRA A and B values of a checkpoint into a model that has LoRA attached.
 *
 * @param model - a model of the same architecture with LoRA attached with the same options
 *   (targets and rank); its base weights and masks are loaded separately, e.g. with
 *   `loadModelFromCheckpoint(model, data)` (before or after attaching)
 * @param data - a checkpoint read with `readCheckpoint`, written by core's `saveModel` (or the
 *   trainer) while LoRA was attached: its `adapter` group holds `lora.<weight>.A` / `.B`
 * @returns the names of the variables loaded
 * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` when the model has no LoRA attached,
 *   or the checkpoint's LoRA variables differ from the model's in names or shapes (attach with
 *   the options used when saving); nothing is loaded then
 * @remarks Values are copied; the checkpoint data is not retained. The adapted model then
 * computes exactly what the saved one did: the effective weights are W + M ⊙ (α/r)·A·B from
 * the same stored values.
 * @example
 * ```ts
 * const data = await readCheckpoint(file);
 * loadModelFromCheckpoint(model, data);
 * attachLora(model, savedOptions, new Rng(0));
 * loadLoraState(model, data);
 * ```
 */
export function loadLoraState(model: Model, data: CheckpointData): string[] {
  const expected = [...model.extraParams].filter(([name]) => name.startsWith(LORA_PARAM_PREFIX));
  if (expected.length === 0) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `Model ${model.arch} has no LoRA attached; attach LoRA with the options used when saving, then load its state.`,
    );
  }
  const stored = new Map([...(data.groups.adapter ?? new Map())].filter(([name]) => name.startsWith(LORA_PARAM_PREFIX)));
  const missing = expected.filter(([name]) => !stored.has(name)).map(([name]) => name);
  const unknown = [...stored.keys()].filter((name) => !model.extraParams.has(name));
  if (missing.length > 0 || unknown.length > 0) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `The checkpoint's LoRA parameters do not match the attached adapter (missing: ${missing.slice(0, 3).join(', ') || 'none'}; ` +
        `not attached: ${unknown.slice(0, 3).join(', ') || 'none'}); attach with the targets used when saving.`,
      { details: { missing, unknown } },
    );
  }
  for (const [name, v] of expected) {
    const a = stored.get(name);
    if (!a || !tf.util.arraysEqual(a.shape, v.shape)) {
      throw new UnlearnError(
        'UNLEARN_CHECKPOINT_INCOMPATIBLE',
        `LoRA parameter "${name}" has shape [${a?.shape}] in the checkpoint but [${v.shape}] in the model; attach with the rank used when saving.`,
        { details: { name, storedShape: a?.shape, shape: v.shape } },
      );
    }
  }
  for (const [name, v] of expected) {
    const a = stored.get(name);
    if (!a) continue;
    tf.tidy(() => v.assign(tf.tensor(a.data, a.shape, 'float32')));
  }
  return expected.map(([name]) => name);
}
