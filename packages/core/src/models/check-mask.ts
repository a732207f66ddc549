import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '../errors/unlearn-error.js';

/**
 * The index of the first value that is not exactly 0 or 1 (NaN included), or -1.
 * @param data - mask values
 * @returns an index into `data`, or -1 when it is a valid 0/1 mask
 */
export function firstNonBinary(data: ArrayLike<number> | ArrayLike<boolean>): number {
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v !== 0 && v !== 1) return i;
  }
  return -1;
}

/**
 * Check that `mask` can prune the weight `name` of a model: a prunable weight, the same shape,
 * values exactly 0 or 1.
 *
 * @param arch - the model's architecture (for the message)
 * @param prunable - the model's prunable weight names
 * @param name - the weight the mask is for
 * @param mask - the mask
 * @param weight - the model's weight called `name`, if any
 * @throws UnlearnError `UNLEARN_MASK_MISMATCH` on an unknown name, a wrong shape, or a value
 *   other than exactly 0 or 1; `details.name` names the mask
 * @remarks Reads the mask back (one download on GPU backends).
 */
export function checkMask(arch: string, prunable: readonly string[], name: string, mask: tf.Tensor, weight: tf.Tensor | undefined): void {
  if (!weight || !prunable.includes(name)) {
    throw new UnlearnError('UNLEARN_MASK_MISMATCH', `Mask for "${name}" does not match a prunable weight of ${arch}.`, {
      details: { name },
    });
  }
  if (!tf.util.arraysEqual(weight.shape, mask.shape)) {
    throw new UnlearnError(
      'UNLEARN_MASK_MISMATCH',
      `Mask for "${name}" has shape [${mask.shape}] but the weight has [${weight.shape}]; was it made for another architecture or width?`,
      { details: { name, maskShape: mask.shape, weightShape: weight.shape } },
    );
  }
  const values = mask.dataSync();
  const bad = firstNonBinary(values);
  if (bad >= 0) {
    const value = Number(values[bad]);
    throw new UnlearnError(
      'UNLEARN_MASK_MISMATCH',
      `Mask for "${name}" holds ${value} at index ${bad}; masks must be exactly 0 (pruned) or 1 (kept). ` +
        'Threshold it (e.g. tf.greater(scores, t)) before setting it.',
      { details: { name, index: bad, value } },
    );
  }
}
