import * as tf from '@tensorflow/tfjs-core';

/** Per-channel mean of the CIFAR-10 training images (RGB, pixels in [0,1]). */
export const CIFAR10_MEAN: readonly [number, number, number] = [0.4914, 0.4822, 0.4465];
/** Per-channel standard deviation of the CIFAR-10 training images (RGB, pixels in [0,1]). */
export const CIFAR10_STD: readonly [number, number, number] = [0.247, 0.2435, 0.2616];

/**
 * Normalise raw [0,1] NHWC pixels with the CIFAR-10 channel mean and std: `(x - mean) / std`.
 *
 * @param x - images `[n, h, w, 3]`, pixels in [0,1]
 * @returns normalised images of the same shape (the caller disposes it, or runs this in a tidy)
 * @remarks Done inside the models so that every consumer (trainers, evaluators, attacks) feeds
 * raw pixels and can never forget or double the normalisation.
 */
export function normalizeCifar(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const mean = tf.tensor1d([...CIFAR10_MEAN]);
    const invStd = tf.tensor1d(CIFAR10_STD.map((s) => 1 / s));
    return tf.mul(tf.sub(x, mean), invStd) as tf.Tensor4D;
  });
}
