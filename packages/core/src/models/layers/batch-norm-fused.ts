import * as tf from '@tensorflow/tfjs-core';
import { FUSED_BATCH_NORM_GRAD_KERNEL, FUSED_BATCH_NORM_INFER_KERNEL, FUSED_BATCH_NORM_KERNEL } from '../../backend/fused-kernels.js';
import { updateRunningStats } from './batch-norm-composed.js';
import { NORM_EPSILON } from './norm-constants.js';

/**
 * Eval-mode `act(bn(x) + residual)` on the backend's fused kernel. Its gradient (eval-mode
 * gradients: Fisher, influence) is composed: g = dy through the ReLU, dx = g·s, dγ = Σ g·(x − μ)/σ,
 * dβ = Σ g, d(residual) = g, with s = γ/σ and σ = √(running var + ε).
 */
export function fusedEvalBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  runningMean: tf.Variable,
  runningVar: tf.Variable,
  residual: tf.Tensor4D | undefined,
  relu: boolean,
): tf.Tensor4D {
  const withGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xs, g, b, res] = args.slice(0, -1) as tf.Tensor[];
    const inputs: tf.NamedTensorMap = {
      x: xs,
      gamma: g,
      beta: b,
      mean: runningMean,
      variance: runningVar,
      ...(res ? { residual: res } : {}),
    };
    const attrs = { epsilon: NORM_EPSILON, relu } as unknown as tf.NamedAttrMap;
    const y = tf.engine().runKernel(FUSED_BATCH_NORM_INFER_KERNEL, inputs, attrs) as tf.Tensor;
    save([xs, y, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sy, sg] = saved;
        const gy = relu ? tf.mul(dy as tf.Tensor, tf.step(sy)) : (dy as tf.Tensor);
        const inv = tf.rsqrt(tf.add(runningVar, NORM_EPSILON));
        const dGamma = tf.mul(tf.sum(tf.mul(gy, tf.sub(sx, runningMean)), [0, 1, 2]), inv);
        const grads = [tf.mul(gy, tf.mul(sg, inv)), dGamma, tf.sum(gy, [0, 1, 2])];
        return res ? [...grads, gy] : grads;
      },
    };
  });
  return (residual === undefined ? withGrad(x, gamma, beta) : withGrad(x, gamma, beta, residual)) as tf.Tensor4D;
}

/** Training-mode `act(bn(x) + residual)` on the backend's fused kernels, one each way. */
export function fusedBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  runningMean: tf.Variable,
  runningVar: tf.Variable,
  residual: tf.Tensor4D | undefined,
  relu: boolean,
): tf.Tensor4D {
  const n = x.shape[0] * x.shape[1] * x.shape[2];
  const attrs = { epsilon: NORM_EPSILON, relu };
  const withGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xs, g, b, res] = args.slice(0, -1) as tf.Tensor[];
    const inputs: tf.NamedTensorMap = res === undefined ? { x: xs, gamma: g, beta: b } : { x: xs, gamma: g, beta: b, residual: res };
    const [y, mean, variance] = tf.engine().runKernel(FUSED_BATCH_NORM_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    updateRunningStats(runningMean, runningVar, mean, variance, n);
    save([xs, y, g, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sy, sg, sm, sv] = saved;
        const gradInputs = { dy: dy as tf.Tensor, x: sx, y: sy, gamma: sg, mean: sm, variance: sv };
        const gradAttrs = { ...attrs, residual: res !== undefined };
        return tf.engine().runKernel(FUSED_BATCH_NORM_GRAD_KERNEL, gradInputs, gradAttrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      },
    };
  });
  return (residual === undefined ? withGrad(x, gamma, beta) : withGrad(x, gamma, beta, residual)) as tf.Tensor4D;
}
