import * as tf from '@tensorflow/tfjs-core';
import { FUSED_LAYER_NORM_KERNELS } from '../../backend/fused-kernels.js';
import { backendHasKernels } from '../../backend/has-kernels.js';
import { centredMoments } from './centred-moments.js';
import { NORM_EPSILON } from './norm-constants.js';

/**
 * Layer normalisation over the last axis (PyTorch `LayerNorm`, epsilon 1e-5, biased variance).
 *
 * @param x - input `[..., d]`
 * @param gamma - scale `[d]`
 * @param beta - shift `[d]`
 * @returns the normalised tensor; the caller disposes it
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor): T {
  if (backendHasKernels(FUSED_LAYER_NORM_KERNELS.forward, FUSED_LAYER_NORM_KERNELS.gradient)) return fusedLayerNorm(x, gamma, beta) as T;
  return layerNormWithGrad(x, gamma, beta) as T;
}

/** Layer norm on the backend's fused kernels, one each way. */
const fusedLayerNorm = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const attrs = { epsilon: NORM_EPSILON } as unknown as tf.NamedAttrMap;
  const [y, mean, invStd] = tf.engine().runKernel(FUSED_LAYER_NORM_KERNELS.forward, { x, gamma, beta }, attrs) as tf.Tensor[];
  save([x, gamma, mean, invStd]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sx, sg, sm, si] = saved;
      return tf
        .engine()
        .runKernel(FUSED_LAYER_NORM_KERNELS.gradient, { dy: dy as tf.Tensor, x: sx, gamma: sg, mean: sm, invStd: si }) as tf.Tensor[];
    },
  };
});

/** Layer norm with a closed-form backward pass (the taped one multiplies by ones(x.shape) per mean). */
const layerNormWithGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const { centered, variance } = centredMoments(x, [x.rank - 1], true);
  const invStd = tf.rsqrt(tf.add(variance, NORM_EPSILON));
  const xHat = tf.mul(centered, invStd);
  save([xHat, invStd, gamma]);
  return {
    value: tf.add(tf.mul(xHat, gamma), beta),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [xh, inv, g] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const gy = dy as tf.Tensor;
      const last = gy.rank - 1;
      const leading = Array.from({ length: last }, (_, i) => i);
      const gx = tf.mul(gy, g);
      // dx = invStd·(g·dy − mean(g·dy) − x̂·mean(g·dy·x̂)), means over the normalised axis.
      const dx = tf.mul(tf.sub(tf.sub(gx, tf.mean(gx, last, true)), tf.mul(xh, tf.mean(tf.mul(gx, xh), last, true))), inv);
      return [dx, tf.sum(tf.mul(gy, xh), leading), tf.sum(gy, leading)];
    },
  };
});
