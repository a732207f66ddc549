import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { MemoryLimit } from '../backend/backend-extension.js';
import type { Model } from '../models/model.js';
import { Rng } from '../random/rng.js';
import { ensureGradients } from './gradients.js';

/** How a training pass fits a backend's memory, from {@link planTrainingMemory}. */
export interface MemoryPlan {
  /** Engine tensor bytes of one pass that scale with the images in it. */
  bytesPerImage: number;
  /** Engine tensor bytes live before the pass (weights, optimizer state, masks). */
  baseBytes: number;
  /** Images per forward/backward pass to use (≤ batch); equals batch when it fits. */
  microBatch: number;
  /** Predicted peak bytes of a pass of `microBatch` images. */
  predictedBytes: number;
}

/**
 * Peak engine bytes of one training pass (forward in training mode + gradients) of `images`
 * zero images. Batch-norm running statistics are put back afterwards and dropout draws from a
 * throwaway generator, so the model and the run's randomness are left exactly as they were.
 */
async function probePass(
  model: Model,
  images: number,
  imageShape: readonly [number, number, number],
  varList: tf.Variable[],
): Promise<number> {
  const saved = new Map<string, tf.Tensor>();
  for (const [name, b] of model.buffers) saved.set(name, tf.clone(b));
  try {
    const before = tf.memory().numBytes;
    const info = await tf.profile(() => {
      tf.tidy(() => {
        const x = tf.zeros([images, imageShape[0], imageShape[1], imageShape[2]]) as tf.Tensor4D;
        const { value, grads } = tf.variableGrads(
          () => tf.mean(model.forward(x, { training: true, rng: new Rng(0) })) as tf.Scalar,
          varList,
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
    });
    return info.peakBytes - before;
  } finally {
    for (const [name, b] of model.buffers) b.assign(saved.get(name) as tf.Tensor);
    tf.dispose([...saved.values()]);
  }
}

/**
 * Plans the images per forward/backward pass so that training stays inside a backend's memory
 * limit (the 4 GiB wasm heap), before the first step. `train` calls it when the run's backend
 * extension has a {@link BackendExtension.memory | memory limit}.
 *
 * @param model - the model to train
 * @param batch - images per optimizer step
 * @param microBatch - the micro-batch the caller asked for, if any
 * @param imageShape - one image's shape, e.g. `[32, 32, 3]`
 * @param varList - the variables the gradients are taken for
 * @param memory - the limit to plan for
 * @returns the plan; `microBatch` is the caller's when given, otherwise the largest divisor-free
 *   split (⌈batch / k⌉ images per pass, k = 1, 2, …) that fits
 * @throws UnlearnError `UNLEARN_OUT_OF_MEMORY` when the caller's micro-batch, or a single image,
 *   does not fit: refused up front instead of aborting the backend mid-epoch
 *
 * @remarks
 * Two probe passes (1 and 2 images) give the bytes per image and the fixed part; the peak of a
 * pass grows linearly in between. The plan keeps a pass under `memory.planShare` of
 * `memory.bytes`, leaving room for what the engine does not count.
 */
export async function planTrainingMemory(
  model: Model,
  batch: number,
  microBatch: number | undefined,
  imageShape: readonly [number, number, number],
  varList: tf.Variable[],
  memory: MemoryLimit,
): Promise<MemoryPlan> {
  ensureGradients();
  const one = await probePass(model, 1, imageShape, varList);
  const two = await probePass(model, 2, imageShape, varList);
  const bytesPerImage = Math.max(1, two - one);
  const baseBytes = tf.memory().numBytes + Math.max(0, one - bytesPerImage);
  const budget = memory.bytes * memory.planShare;
  const predict = (images: number) => baseBytes + images * bytesPerImage;
  const gb = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  const largest = Math.floor((budget - baseBytes) / bytesPerImage);
  if (largest < 1) {
    throw new UnlearnError(
      'UNLEARN_OUT_OF_MEMORY',
      `Even one image per pass needs ~${gb(predict(1))} of ${memory.label} (plan limit ${gb(budget)}): use a smaller model or another backend.`,
      { details: { bytesPerImage, baseBytes } },
    );
  }
  const requested = microBatch !== undefined && microBatch < batch ? microBatch : batch;
  if (predict(requested) <= budget) return { bytesPerImage, baseBytes, microBatch: requested, predictedBytes: predict(requested) };
  if (microBatch !== undefined) {
    throw new UnlearnError(
      'UNLEARN_OUT_OF_MEMORY',
      `A pass of ${requested} images needs ~${gb(predict(requested))} of ${memory.label} (plan limit ${gb(budget)}) and would abort it; use microBatch: ${largest} or less.`,
      { details: { batch, microBatch, bytesPerImage, baseBytes, suggestion: largest } },
    );
  }
  let passes = 2;
  while (Math.ceil(batch / passes) > largest) passes++;
  const planned = Math.ceil(batch / passes);
  return { bytesPerImage, baseBytes, microBatch: planned, predictedBytes: predict(planned) };
}
