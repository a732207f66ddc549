import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean, centred input and biased variance over `axes`: what both norms start from.
 * @returns tensors the caller disposes (or a surrounding tidy does)
 */
export function centredMoments(
  x: tf.Tensor,
  axes: number[],
  keepDims: boolean,
): { mean: tf.Tensor; centered: tf.Tensor; variance: tf.Tensor } {
  const mean = tf.mean(x, axes, keepDims);
  const centered = tf.sub(x, mean);
  return { mean, centered, variance: tf.mean(tf.square(centered), axes, keepDims) };
}
