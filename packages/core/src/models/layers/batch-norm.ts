import * as tf from '@tensorflow/tfjs-core';
import { backendHasKernels } from '../../backend/has-kernels.js';
import { FUSED_BATCH_NORM_GRAD_KERNEL, FUSED_BATCH_NORM_INFER_KERNEL, FUSED_BATCH_NORM_KERNEL } from '../../backend/fused-kernels.js';
import { composedBatchNorm, evalBatchNorm } from './batch-norm-composed.js';
import { fusedBatchNorm, fusedEvalBatchNorm } from './batch-norm-fused.js';

/** What follows the normalisation in {@link batchNorm}. */
export interface BatchNormActOptions {
  /** Added to the normalised tensor (a ResNet block's shortcut); same shape as x. */
  residual?: tf.Tensor4D;
  /** Apply ReLU last. @defaultValue false */
  relu?: boolean;
}

/**
 * Batch normalisation over the last (channel) axis, as PyTorch's `BatchNorm2d`, optionally
 * followed by a residual addition and a ReLU: `act(bn(x) + residual)`.
 *
 * @param x - input `[n, h, w, c]`
 * @param gamma - scale `[c]`
 * @param beta - shift `[c]`
 * @param runningMean - running mean buffer `[c]` (updated in place in training mode)
 * @param runningVar - running variance buffer `[c]` (updated in place in training mode)
 * @param training - use batch statistics and update the running buffers
 * @param options - a residual to add and whether to apply ReLU after the normalisation
 * @returns the normalised tensor; the caller disposes it
 * @remarks
 * Training mode normalises with the batch mean and the biased batch variance, and sets
 * `running = 0.9 * running + 0.1 * batch`, using the *unbiased* variance (×n/(n−1), n = N·H·W)
 * for the running variance, exactly as PyTorch. The new running values are computed from the
 * batch moments and assigned to the buffers; they are never used by the output, so a gradient
 * taped around the forward pass ignores them (tfjs prunes tape nodes that do not lead to the
 * loss). Eval mode uses the running statistics.
 *
 * In training mode, where the active backend registers {@link FUSED_BATCH_NORM_KERNEL} and its
 * gradient, the whole of `act(bn(x) + residual)` and its backward pass are one kernel each (two
 * or three passes over the activations instead of ~20 element-wise ops); in eval mode likewise
 * with {@link FUSED_BATCH_NORM_INFER_KERNEL} (one pass instead of three or four). Otherwise it is
 * written with broadcasting element-wise ops rather than `tf.batchNorm`, whose gradient tiles
 * `[c]` up to the input shape, slow on the wasm backend.
 */
export function batchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  runningMean: tf.Variable,
  runningVar: tf.Variable,
  training: boolean,
  options: BatchNormActOptions = {},
): tf.Tensor4D {
  const { residual, relu = false } = options;
  if (training && backendHasKernels(FUSED_BATCH_NORM_KERNEL, FUSED_BATCH_NORM_GRAD_KERNEL)) {
    return fusedBatchNorm(x, gamma, beta, runningMean, runningVar, residual, relu);
  }
  if (!training && backendHasKernels(FUSED_BATCH_NORM_INFER_KERNEL)) {
    return fusedEvalBatchNorm(x, gamma, beta, runningMean, runningVar, residual, relu);
  }
  let y = training ? composedBatchNorm(x, gamma, beta, runningMean, runningVar) : evalBatchNorm(x, gamma, beta, runningMean, runningVar);
  if (residual !== undefined) y = tf.add(y, residual);
  return relu ? tf.relu(y) : y;
}
