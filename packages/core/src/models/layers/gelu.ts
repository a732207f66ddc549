import * as tf from '@tensorflow/tfjs-core';
import { FUSED_GELU_KERNELS } from '../../backend/fused-kernels.js';
import { backendHasKernels } from '../../backend/has-kernels.js';

/**
 * GELU with the exact error function, `0.5 · x · (1 + erf(x / √2))` (PyTorch's default
 * `nn.GELU()`, not the tanh approximation).
 *
 * @param x - any tensor
 * @returns a tensor of the same shape; the caller disposes it
 * @remarks Where the backend registers {@link FUSED_GELU_KERNELS}, forward and backward are one
 * kernel each; otherwise element-wise ops (five forward, about ten more taped backward).
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (backendHasKernels(FUSED_GELU_KERNELS.forward, FUSED_GELU_KERNELS.gradient)) return fusedGelu(x) as T;
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as T;
}

const fusedGelu = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.engine().runKernel(FUSED_GELU_KERNELS.forward, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
      tf.engine().runKernel(FUSED_GELU_KERNELS.gradient, { dy: dy as tf.Tensor, x: saved[0] }) as tf.Tensor,
  };
});
