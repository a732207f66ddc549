import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError, isUnlearnError } from '../errors/unlearn-error.js';
import { firstNonBinary } from '../models/check-mask.js';
import type { Model } from '../models/model.js';
import { type CheckpointData, type StoredArray, readCheckpoint, writeCheckpoint } from './checkpoint-file.js';

/** Copy tensors into plain arrays for a checkpoint. */
export function tensorsToArrays(tensors: ReadonlyMap<string, tf.Tensor>): Map<string, StoredArray> {
  const out = new Map<string, StoredArray>();
  for (const [n, t] of tensors) out.set(n, { shape: [...t.shape], data: Float32Array.from(t.dataSync() as ArrayLike<number>) });
  return out;
}

/** Make tensors from stored arrays; the caller disposes them. */
export function arraysToTensors(arrays: ReadonlyMap<string, StoredArray> | undefined): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [n, a] of arrays ?? []) out.set(n, tf.tensor(a.data, a.shape, 'float32'));
  return out;
}

/**
 * The model part of a checkpoint: params, buffers and masks, plus arch/config in meta.
 * @param model - the model
 */
export function modelToCheckpoint(model: Model): Pick<CheckpointData, 'groups'> & { meta: Record<string, unknown> } {
  const params = new Map<string, tf.Tensor>([...model.params, ...model.buffers]);
  return {
    meta: { arch: model.arch, config: model.config },
    groups: {
      weights: tensorsToArrays(params),
      masks: tensorsToArrays(model.masks),
      adapter: tensorsToArrays(model.extraParams),
    },
  };
}

/**
 * Save a model (weights, buffers, masks) with extra metadata, atomically.
 * @param file - path
 * @param model - the model
 * @param meta - extra metadata (round, sparsity, accuracy...)
 * @param kind - checkpoint kind @defaultValue 'model'
 */
export async function saveModel(file: string, model: Model, meta: Record<string, unknown> = {}, kind = 'model'): Promise<void> {
  const m = modelToCheckpoint(model);
  await writeCheckpoint(file, { kind, meta: { ...m.meta, ...meta }, groups: m.groups });
}

/**
 * Load weights, buffers and masks from checkpoint data into a model of the same architecture.
 * @param model - target model
 * @param data - from {@link readCheckpoint}
 * @param file - for messages
 * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` when the architecture or config differs;
 *   `UNLEARN_NON_FINITE_WEIGHTS` when a weight or buffer holds NaN/±Inf; `UNLEARN_MASK_MISMATCH`
 *   when a mask is not exactly 0/1 or does not fit a prunable weight. Each names `file`, and
 *   `details.tensor` the array at fault. Values are checked before the model changes.
 */
export function loadModelFromCheckpoint(model: Model, data: CheckpointData, file = 'checkpoint'): void {
  const arch = data.meta.arch;
  if (arch !== model.arch || JSON.stringify(data.meta.config) !== JSON.stringify(model.config)) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `${file} holds ${String(arch)} ${JSON.stringify(data.meta.config)}, but the model is ${model.arch} ${JSON.stringify(model.config)}.`,
      { details: { file, arch, config: data.meta.config } },
    );
  }
  // Checked on the plain arrays, before any tensor exists or the model changes: a NaN weight
  // makes every prediction class 0 (argMax of NaN), which reads as a plausible 0% accuracy.
  for (const [name, a] of data.groups.weights ?? []) {
    const bad = a.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new UnlearnError(
        'UNLEARN_NON_FINITE_WEIGHTS',
        `${file} holds ${a.data[bad]} at index ${bad} of weight "${name}"; re-run the step that wrote it (with a lower learning rate if training diverged).`,
        { details: { file, tensor: `weights/${name}`, group: 'weights', name, index: bad, value: a.data[bad] } },
      );
    }
  }
  for (const [name, a] of data.groups.masks ?? []) {
    const bad = firstNonBinary(a.data);
    if (bad >= 0) {
      throw new UnlearnError(
        'UNLEARN_MASK_MISMATCH',
        `${file} holds ${a.data[bad]} at index ${bad} of the mask for "${name}"; masks must be exactly 0 or 1. Re-run the pruning step that wrote it.`,
        { details: { file, tensor: `masks/${name}`, group: 'masks', name, index: bad, value: a.data[bad] } },
      );
    }
  }
  const weights = arraysToTensors(data.groups.weights);
  const masks = arraysToTensors(data.groups.masks);
  try {
    // Drop the model's current masks first: `load` applies masks, and stale ones (say, from a
    // pruning run on this model) would zero weights of the checkpoint being loaded.
    model.clearMasks();
    model.load(weights, { strict: true });
    if (masks.size > 0) model.setMasks(masks);
  } catch (err) {
    // Model's errors name the weight but not the file the caller will have to delete.
    if (isUnlearnError(err) && err.details.file === undefined) {
      throw new UnlearnError(err.code, `${file}: ${err.message}`, { details: { ...err.details, file }, cause: err });
    }
    throw err;
  } finally {
    for (const t of [...weights.values(), ...masks.values()]) t.dispose();
  }
}

/**
 * Read a model checkpoint file into a model.
 * @param file - path
 * @param model - target model of the same architecture and config
 * @returns the checkpoint's metadata
 * @throws UnlearnError what {@link readCheckpoint} and {@link loadModelFromCheckpoint} throw
 */
export async function loadModel(file: string, model: Model): Promise<Record<string, unknown>> {
  const data = await readCheckpoint(file);
  loadModelFromCheckpoint(model, data, file);
  return data.meta;
}
