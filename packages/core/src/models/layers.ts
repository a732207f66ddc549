import * as tf from '@tensorflow/tfjs-core';
import { backendHasKernels } from '../backend/has-kernels.js';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { Rng } from '../random/rng.js';
import type { LinearOpOptions } from './model.js';

/** Per-channel mean of the CIFAR-10 training images (RGB, pixels in [0,1]). */
export const CIFAR10_MEAN: readonly [number, number, number] = [0.4914, 0.4822, 0.4465];
/** Per-channel standard deviation of the CIFAR-10 training images (RGB, pixels in [0,1]). */
export const CIFAR10_STD: readonly [number, number, number] = [0.247, 0.2435, 0.2616];

/** PyTorch's BatchNorm momentum: `running = (1 - m) * running + m * batch`. */
export const BATCH_NORM_MOMENTUM = 0.1;
/** PyTorch's BatchNorm and LayerNorm epsilon. */
export const NORM_EPSILON = 1e-5;

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

/**
 * 2-D convolution, NHWC input and HWIO kernel `[kh, kw, in, out]`, `same` padding, no bias.
 *
 * @param x - input `[n, h, w, in]`
 * @param kernel - `[kh, kw, in, out]`
 * @param stride - stride in both directions
 * @returns `[n, ceil(h/stride), ceil(w/stride), out]`; the caller disposes it
 * @remarks TensorFlow's `same` padding puts the extra row/column of an even-sized input at
 * stride 2 after the image (PyTorch's `padding=1` puts one on each side): outputs have the
 * same shape, the sampling grid differs by one pixel. It matters only when importing PyTorch
 * weights, not when training here.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor, stride: number): tf.Tensor4D {
  return tf.conv2d(x, kernel as tf.Tensor4D, stride, 'same');
}

/**
 * Name of the optional fused training-mode BatchNorm kernel that {@link batchNorm} runs where the
 * active backend registers it (with {@link FUSED_BATCH_NORM_GRAD_KERNEL}); @unlearnjs/backend-wasm
 * does for 'wasm'. Inputs `{ x, gamma, beta, residual? }`, attributes `{ epsilon, relu }`,
 * outputs `[y, mean, variance]` with `y = act((x − mean)·gamma/√(variance + epsilon) + beta +
 * residual)`, mean and biased variance over every axis but the last. A third-party backend may
 * register the pair to speed BatchNorm up; the result must match the composed ops.
 */
export const FUSED_BATCH_NORM_KERNEL = 'UnlearnBatchNormTrain';

/**
 * Name of the backward kernel of {@link FUSED_BATCH_NORM_KERNEL}: inputs `{ dy, x, y, gamma, mean,
 * variance }`, attributes `{ epsilon, relu, residual }`, outputs `[dx, dGamma, dBeta]` and, when
 * `residual`, the residual's gradient (dy through the ReLU).
 */
export const FUSED_BATCH_NORM_GRAD_KERNEL = 'UnlearnBatchNormTrainGrad';

/**
 * Name of the optional eval-mode fused BatchNorm kernel: inputs `{ x, gamma, beta, mean,
 * variance, residual? }` (the running statistics), attributes `{ epsilon, relu }`, output
 * `act((x − mean)·gamma/√(variance + epsilon) + beta + residual)`. {@link batchNorm} runs it in
 * eval mode where the backend registers it (its gradient is composed here).
 */
export const FUSED_BATCH_NORM_INFER_KERNEL = 'UnlearnBatchNormInfer';

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

/** y = x * scale + shift, with scale and shift computed on [c] only. */
function evalBatchNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, runningMean: tf.Variable, runningVar: tf.Variable): tf.Tensor4D {
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, NORM_EPSILON)));
  const shift = tf.sub(beta, tf.mul(runningMean, scale));
  return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
}

/** `running = (1 − m)·running + m·batch`, the variance unbiased (PyTorch). */
function updateRunningStats(runningMean: tf.Variable, runningVar: tf.Variable, mean: tf.Tensor, variance: tf.Tensor, n: number): void {
  const m = BATCH_NORM_MOMENTUM;
  const unbias = n > 1 ? n / (n - 1) : 1;
  tf.tidy(() => {
    runningMean.assign(tf.add(tf.mul(runningMean, 1 - m), tf.mul(mean, m)));
    runningVar.assign(tf.add(tf.mul(runningVar, 1 - m), tf.mul(variance, m * unbias)));
  });
}

/** Training-mode BatchNorm from element-wise ops, with a closed-form backward pass. */
function composedBatchNorm(
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

/**
 * Eval-mode `act(bn(x) + residual)` on the backend's fused kernel. Its gradient (eval-mode
 * gradients: Fisher, influence) is composed: g = dy through the ReLU, dx = g·s, dγ = Σ g·(x − μ)/σ,
 * dβ = Σ g, d(residual) = g, with s = γ/σ and σ = √(running var + ε).
 */
function fusedEvalBatchNorm(
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
function fusedBatchNorm(
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

/** Mean, centred input and biased variance over `axes` (what both norms start from). */
function centredMoments(x: tf.Tensor, axes: number[], keepDims: boolean): { mean: tf.Tensor; centered: tf.Tensor; variance: tf.Tensor } {
  const mean = tf.mean(x, axes, keepDims);
  const centered = tf.sub(x, mean);
  return { mean, centered, variance: tf.mean(tf.square(centered), axes, keepDims) };
}

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

/**
 * Names of the optional fused LayerNorm kernels that {@link layerNorm} runs where the active
 * backend registers both: `UnlearnLayerNorm` (inputs `{ x, gamma, beta }`, attribute
 * `{ epsilon }`, outputs `[y, mean, invStd]` per row) and `UnlearnLayerNormGrad` (inputs
 * `{ dy, x, gamma, mean, invStd }`, outputs `[dx, dGamma, dBeta]`).
 */
export const FUSED_LAYER_NORM_KERNELS = { forward: 'UnlearnLayerNorm', gradient: 'UnlearnLayerNormGrad' } as const;

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

/**
 * Matrix product `a · b` of two rank-2 or two rank-3 (batched) tensors, with an optional frozen
 * right operand.
 *
 * @param a - `[m, k]` or `[b, m, k]`
 * @param b - `[k, n]` or `[b, k, n]`
 * @param options - `constantB`: no gradient flows to `b` (a frozen weight), so the backward
 *   pass computes only `∂/∂a`
 * @returns `[m, n]` or `[b, m, n]`; the caller disposes it
 * @remarks The gradients are `dy · bᵀ` and `aᵀ · dy`, passed to the backend as transposed
 * products (`transposeA`/`transposeB`) rather than physically transposed operands, so that the
 * backend picks how to run them: @unlearnjs/backend-wasm computes a dense layer's weight
 * gradient `aᵀ · dy` (a reduction over every token) on its SIMD kernel without moving `a`.
 * A custom gradient computes the gradients of all its inputs whether or not they are needed,
 * hence `constantB`, which leaves `b` out of the taped inputs.
 */
export function matMul<T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: T, options: { constantB?: boolean } = {}): T {
  if (!options.constantB) return matMulWithGrad(a, b) as T;
  const withConstantB = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([b]);
    return {
      value: tf.matMul(x, b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor, saved[0], false, true)],
    };
  });
  return withConstantB(a) as T;
}

const matMulWithGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [sa, sb] = saved as [tf.Tensor, tf.Tensor];
      return [tf.matMul(g, sb, false, true), tf.matMul(sa, g, true, false)];
    },
  };
});

/**
 * Fully connected layer `x · kernel + bias` over the last axis of a rank-2 or rank-3 input.
 *
 * @param x - `[n, in]` or `[n, t, in]`
 * @param kernel - `[in, out]`
 * @param bias - `[out]`, optional
 * @param options - `constantWeight`: the kernel gets no gradient (it is frozen), so the
 *   backward pass skips `∂/∂kernel`
 * @returns `[n, out]` or `[n, t, out]`; the caller disposes it
 */
export function dense<T extends tf.Tensor2D | tf.Tensor3D>(x: T, kernel: tf.Tensor, bias?: tf.Tensor, options: LinearOpOptions = {}): T {
  const inDim = x.shape[x.rank - 1];
  const outDim = kernel.shape[1] as number;
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, inDim]) as tf.Tensor2D);
  let y: tf.Tensor2D = matMul(flat, kernel as tf.Tensor2D, { constantB: options.constantWeight });
  if (bias) y = tf.add(y, bias);
  return (x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim])) as unknown as T;
}

/**
 * Names of the optional fused GELU kernels that {@link gelu} runs where the active backend
 * registers both: `UnlearnGelu` (input `{ x }`, output GELU(x)) and `UnlearnGeluGrad` (inputs
 * `{ dy, x }`, output `dy·(0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π))`).
 */
export const FUSED_GELU_KERNELS = { forward: 'UnlearnGelu', gradient: 'UnlearnGeluGrad' } as const;

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
