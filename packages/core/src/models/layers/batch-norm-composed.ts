import * as tf from '@tensorflow/tfjs-core';
import { centredMoments } from './centred-moments.js';
import { BATCH_NORM_MOMENTUM, NORM_EPSILON } from './norm-constants.js';

/** y = x * scale + shift, with scale and shift computed on [c] only. */
export function evalBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  runningMean: tf.Variable,
  runningVar: tf.Variable,
): tf.Tensor4D {
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, NORM_EPSILON)));
  const shift = tf.sub(beta, tf.mul(runningMean, scale));
  return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
}

/** `running = (1 − m)·running + m·batch`, the variance unbiased (PyTorch). */
export function updateRunningStats(
  runningMean: tf.Variable,
  runningVar: tf.Variable,
  mean: tf.Tensor,
  variance: tf.Tensor,
  n: number,
): void {
  const m = BATCH_NORM_MOMENTUM;
  const unbias = n > 1 ? n / (n - 1) : 1;
  tf.tidy(() => {
    runningMean.assign(tf.add(tf.mul(runningMean, 1 - m), tf.mul(mean, m)));
    runningVar.assign(tf.add(tf.mul(runningVar, 1 - m), tf.mul(variance, m * unbias)));
  });
}

/** Training-mode BatchNorm from element-wise ops, with a closed-form backward pass. */
export function composedBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  runningMean: tf.Variable,
  runningVar: tf.Variable,
): tf.Tensor4D {
  const n = x.shape[0] * x.shape[1] * x.shape[2];
  // Closed-form backward pass: the taped one (through two means, a square and the broadcasts)
  // makes ~12 activation-sized passes, among them a ones(x.shape) product per mean; this one 5.
  const normalise = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xs, g, b, save] = args as [tf.Tensor4D, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { mean, centered, variance } = centredMoments(xs, [0, 1, 2], false);
    updateRunningStats(runningMean, runningVar, mean, variance, n);
    const invStd = tf.rsqrt(tf.add(variance, NORM_EPSILON));
    const scale = tf.mul(g, invStd);
    save([centered, invStd, scale]);
    return {
      value: tf.add(tf.mul(centered, scale), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [c, inv, sc] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
        const gy = dy as tf.Tensor4D;
        const dBeta = tf.sum(gy, [0, 1, 2]);
        const dot = tf.sum(tf.mul(gy, c), [0, 1, 2]); // Σ dy·(x − μ)
        // dx = scale·(dy − Σdy/n − (x − μ)·invStd²·Σdy(x − μ)/n)
        const k = tf.div(tf.mul(tf.mul(sc, tf.square(inv)), dot), n);
        const shift = tf.div(tf.mul(sc, dBeta), n);
        const dx = tf.sub(tf.sub(tf.mul(gy, sc), tf.mul(c, k)), shift);
        return [dx, tf.mul(dot, inv), dBeta];
      },
    };
  });
  return normalise(x, gamma, beta) as tf.Tensor4D;
}
