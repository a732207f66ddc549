import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './kernel-scope.js';
import { type HeapKernels, SUM_BLOCK_ROWS } from '../simd/heap-kernels.js';
import { HeapScratch, addBlocks, heapKernels, lastAxisRows, offsetOf } from './on-heap.js';

interface ForwardArgs {
  inputs: { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo; residual?: TensorInfo };
  attrs: { epsilon: number; relu: boolean };
  backend: WasmBackendLike;
}

interface InferArgs {
  inputs: { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo; mean: TensorInfo; variance: TensorInfo; residual?: TensorInfo };
  attrs: { epsilon: number; relu: boolean };
  backend: WasmBackendLike;
}

interface GradArgs {
  inputs: { dy: TensorInfo; x: TensorInfo; y: TensorInfo; gamma: TensorInfo; mean: TensorInfo; variance: TensorInfo };
  attrs: { epsilon: number; relu: boolean; residual: boolean };
  backend: WasmBackendLike;
}

/** Per-channel γ/√(var + ε) rounded as float32, as the composed ops compute it. */
function scaleOf(gamma: Float32Array, variance: Float32Array, epsilon: number): { inv: Float32Array; scale: Float32Array } {
  const C = gamma.length;
  const inv = new Float32Array(C);
  const scale = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    inv[c] = 1 / Math.sqrt(Math.fround(variance[c] + epsilon));
    scale[c] = gamma[c] * inv[c];
  }
  return { inv, scale };
}

/**
 * y = act((x − mean)·scale + beta + residual) over all rows, in place on the tfjs heap (one SIMD
 * pass, or scalar JS when `simd` is null). `mean` and `beta` are [C] tensors, `scale` C floats.
 */
function normalise(
  backend: WasmBackendLike,
  simd: HeapKernels | null,
  t: { x: TensorInfo; residual?: TensorInfo; y: TensorInfo; mean: TensorInfo; beta: TensorInfo },
  scale: Float32Array,
  relu: boolean,
): void {
  const { rows, cols: C } = lastAxisRows(t.x);
  if (simd !== null) {
    const scratch = new HeapScratch(backend);
    try {
      const scaleAt = scratch.put(scale);
      const [xAt, yAt, meanAt, betaAt] = [t.x, t.y, t.mean, t.beta].map((v) => offsetOf(backend, v));
      const resAt = t.residual === undefined ? 0 : offsetOf(backend, t.residual);
      simd.bnForward(xAt, resAt, yAt, meanAt, scaleAt, betaAt, C, relu ? 1 : 0, 0, rows);
    } finally {
      scratch.free();
    }
    return;
  }
  const [xs, ys, mean, b] = [t.x, t.y, t.mean, t.beta].map((v) => backend.typedArrayFromHeap(v) as Float32Array);
  const rs = t.residual === undefined ? undefined : (backend.typedArrayFromHeap(t.residual) as Float32Array);
  for (let i = 0; i < rows * C; i += C) {
    for (let c = 0; c < C; c++) {
      let v = (xs[i + c] - mean[c]) * scale[c] + b[c];
      if (rs !== undefined) v += rs[i + c];
      ys[i + c] = relu && !(v > 0) ? 0 : v;
    }
  }
}

/**
 * The forward kernel: two passes of per-block column sums (mean, then the centred variance) and
 * one output pass, on the package's SIMD kernels reading and writing the tensors in place on the
 * tfjs heap; scalar JS where the SIMD kernels are not in use.
 */
export const batchNormTrain: KernelFunc = (args) => {
  const { inputs, attrs, backend } = args as unknown as ForwardArgs;
  const { x, gamma, beta, residual } = inputs;
  const { rows, cols: C } = lastAxisRows(x);
  const y = backend.makeOutput([...x.shape], 'float32');
  const meanOut = backend.makeOutput([C], 'float32');
  const varOut = backend.makeOutput([C], 'float32');
  const simd = heapKernels(backend);
  if (simd !== null) {
    const blocks = Math.ceil(rows / SUM_BLOCK_ROWS);
    const scratch = new HeapScratch(backend);
    try {
      const sumsAt = scratch.alloc(blocks * C);
      const xAt = offsetOf(backend, x);
      simd.bnBlockSums(xAt, 0, C, sumsAt, 0, 0, rows);
      (backend.typedArrayFromHeap(meanOut) as Float32Array).set(addBlocks(scratch.view(sumsAt, blocks * C), blocks, C, 1 / rows));
      simd.bnBlockSums(xAt, offsetOf(backend, meanOut), C, sumsAt, 1, 0, rows);
      (backend.typedArrayFromHeap(varOut) as Float32Array).set(addBlocks(scratch.view(sumsAt, blocks * C), blocks, C, 1 / rows));
    } finally {
      scratch.free();
    }
  } else {
    const xs = backend.typedArrayFromHeap(x) as Float32Array;
    const mean = backend.typedArrayFromHeap(meanOut) as Float32Array;
    const variance = backend.typedArrayFromHeap(varOut) as Float32Array;
    const sum = new Float64Array(C);
    for (let i = 0; i < rows * C; i += C) for (let c = 0; c < C; c++) sum[c] += xs[i + c];
    for (let c = 0; c < C; c++) mean[c] = sum[c] / rows;
    sum.fill(0);
    for (let i = 0; i < rows * C; i += C) {
      for (let c = 0; c < C; c++) {
        const d = xs[i + c] - mean[c];
        sum[c] += d * d;
      }
    }
    for (let c = 0; c < C; c++) variance[c] = sum[c] / rows;
  }
  const { scale } = scaleOf(
    backend.typedArrayFromHeap(gamma) as Float32Array,
    backend.typedArrayFromHeap(varOut) as Float32Array,
    attrs.epsilon,
  );
  normalise(backend, simd, { x, residual, y, mean: meanOut, beta }, scale, attrs.relu);
  return [y, meanOut, varOut];
};

/**
 * The eval-mode kernel ((core's `FUSED_BATCH_NORM_INFER_KERNEL`)): one pass with the given statistics.
 */
export const batchNormInfer: KernelFunc = (args) => {
  const { inputs, attrs, backend } = args as unknown as InferArgs;
  const { x, gamma, beta, mean, variance, residual } = inputs;
  const y = backend.makeOutput([...x.shape], 'float32');
  const { scale } = scaleOf(
    backend.typedArrayFromHeap(gamma) as Float32Array,
    backend.typedArrayFromHeap(variance) as Float32Array,
    attrs.epsilon,
  );
  normalise(backend, heapKernels(backend), { x, residual, y, mean, beta }, scale, attrs.relu);
  return y;
};

/**
 * The backward kernel: one pass for g (dy through the ReLU) and the per-channel sums Σg and
 * Σg·(x − mean), one for dx = g·s − (x − mean)·s·inv²·Σg(x − mean)/n − s·Σg/n (s = γ·inv,
 * inv = 1/√(var + ε), n the rows); dγ = inv·Σg(x − mean), dβ = Σg. g is written to the
 * residual's gradient when there is one (it is that gradient), else to dx, which the second pass
 * then overwrites in place.
 */
export const batchNormTrainGrad: KernelFunc = (args) => {
  const { inputs, attrs, backend } = args as unknown as GradArgs;
  const { dy, x, y, gamma, mean, variance } = inputs;
  const { rows, cols: C } = lastAxisRows(x);
  const dxOut = backend.makeOutput([...x.shape], 'float32');
  const dGammaOut = backend.makeOutput([C], 'float32');
  const dBetaOut = backend.makeOutput([C], 'float32');
  const dResOut = attrs.residual ? backend.makeOutput([...x.shape], 'float32') : undefined;
  const outputs = dResOut === undefined ? [dxOut, dGammaOut, dBetaOut] : [dxOut, dGammaOut, dBetaOut, dResOut];
  const gOut = dResOut ?? dxOut;
  const relu = attrs.relu ? 1 : 0;
  const { inv, scale } = scaleOf(
    backend.typedArrayFromHeap(gamma) as Float32Array,
    backend.typedArrayFromHeap(variance) as Float32Array,
    attrs.epsilon,
  );
  /** dγ and dβ, and the per-channel coefficients of the dx pass, from Σg and Σg·(x − mean). */
  const coefficients = (sumG: Float64Array, dot: Float64Array) => {
    const dGamma = backend.typedArrayFromHeap(dGammaOut) as Float32Array;
    const dBeta = backend.typedArrayFromHeap(dBetaOut) as Float32Array;
    const k = new Float32Array(C);
    const shift = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      dBeta[c] = sumG[c];
      dGamma[c] = dot[c] * inv[c];
      k[c] = (scale[c] * inv[c] * inv[c] * dot[c]) / rows;
      shift[c] = (scale[c] * sumG[c]) / rows;
    }
    return { k, shift };
  };
  const simd = heapKernels(backend);
  if (simd !== null) {
    const blocks = Math.ceil(rows / SUM_BLOCK_ROWS);
    const scratch = new HeapScratch(backend);
    try {
      const sumsAt = scratch.alloc(blocks * C);
      const dotsAt = scratch.alloc(blocks * C);
      const [dyAt, xAt, yAt, meanAt, gAt, dxAt] = [dy, x, y, mean, gOut, dxOut].map((t) => offsetOf(backend, t));
      simd.bnBackwardSums(dyAt, yAt, xAt, meanAt, C, relu, gAt, sumsAt, dotsAt, 0, rows);
      const { k, shift } = coefficients(
        addBlocks(scratch.view(sumsAt, blocks * C), blocks, C, 1),
        addBlocks(scratch.view(dotsAt, blocks * C), blocks, C, 1),
      );
      simd.bnBackwardInput(gAt, xAt, dxAt, meanAt, scratch.put(scale), scratch.put(k), scratch.put(shift), C, 0, rows);
    } finally {
      scratch.free();
    }
    return outputs;
  }
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const ys = backend.typedArrayFromHeap(y) as Float32Array;
  const m = backend.typedArrayFromHeap(mean) as Float32Array;
  const gs = backend.typedArrayFromHeap(gOut) as Float32Array;
  const dx = backend.typedArrayFromHeap(dxOut) as Float32Array;
  const sumG = new Float64Array(C);
  const dot = new Float64Array(C);
  for (let i = 0; i < rows * C; i += C) {
    for (let c = 0; c < C; c++) {
      const g = relu && !(ys[i + c] > 0) ? 0 : dys[i + c];
      gs[i + c] = g;
      sumG[c] += g;
      dot[c] += g * (xs[i + c] - m[c]);
    }
  }
  const { k, shift } = coefficients(sumG, dot);
  for (let i = 0; i < rows * C; i += C) {
    for (let c = 0; c < C; c++) dx[i + c] = gs[i + c] * scale[c] - (xs[i + c] - m[c]) * k[c] - shift[c];
  }
  return outputs;
};
