import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '../../errors/unlearn-error.js';
import type { Rng } from '../../random/rng.js';

/**
 * Inverted dropout: zero each element with probability `rate` and scale the rest by
 * `1 / (1 - rate)`, with the mask drawn from `rng`.
 *
 * @param x - any tensor
 * @param rate - drop probability in [0, 1)
 * @param rng - the randomness (same state, same mask)
 * @returns a tensor of the same shape; the caller disposes it
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `rng` is missing (dropout would not be reproducible)
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, rng: Rng | undefined): T {
  if (rate <= 0) return x;
  if (!rng) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      'Dropout in training mode needs randomness: pass `rng` in the forward options (model.forward(x, { training: true, rng })).',
    );
  }
  const keep = 1 - rate;
  const u = rng.uniformArray(x.size, 0, 1);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = u[i] < keep ? 1 / keep : 0;
  return tf.mul(x, tf.tensor(mask, x.shape)) as T;
}
