import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './kernel-scope.js';
import { SUM_BLOCK_ROWS } from '../simd/heap-kernels.js';
import { HeapScratch, addBlocks, heapKernels, lastAxisRows, offsetOf } from './on-heap.js';

/** `FUSED_LAYER_NORM_KERNELS.forward` of core for 'wasm': one call over the rows on the tfjs heap, or scalar JS. */
export const layerNorm: KernelFunc = (args) => {
  const { inputs, attrs, backend } = args as unknown as {
    inputs: { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    attrs: { epsilon: number };
    backend: WasmBackendLike;
  };
  const { x, gamma, beta } = inputs;
  const { rows, cols: D } = lastAxisRows(x);
  const y = backend.makeOutput([...x.shape], 'float32');
  const mean = backend.makeOutput(x.shape.slice(0, -1), 'float32');
  const inv = backend.makeOutput(x.shape.slice(0, -1), 'float32');
  const simd = heapKernels(backend);
  if (simd !== null) {
    const [xAt, gAt, bAt, yAt, mAt, iAt] = [x, gamma, beta, y, mean, inv].map((t) => offsetOf(backend, t));
    simd.lnForward(xAt, gAt, bAt, yAt, mAt, iAt, D, attrs.epsilon, 0, rows);
    return [y, mean, inv];
  }
  const [xs, g, b, ys, ms, is] = [x, gamma, beta, y, mean, inv].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let s = 0;
    for (let c = 0; c < D; c++) s += xs[o + c];
    const mu = Math.fround(s / D);
    let v = 0;
    for (let c = 0; c < D; c++) v += (xs[o + c] - mu) ** 2;
    const iv = 1 / Math.sqrt(Math.fround(v / D) + attrs.epsilon);
    ms[r] = mu;
    is[r] = iv;
    for (let c = 0; c < D; c++) ys[o + c] = (xs[o + c] - mu) * iv * g[c] + b[c];
  }
  return [y, mean, inv];
};

/** `FUSED_LAYER_NORM_KERNELS.gradient` of core for 'wasm': one call over the rows on the tfjs heap, or scalar JS. */
export const layerNormGrad: KernelFunc = (args) => {
  const { inputs, backend } = args as unknown as {
    inputs: { dy: TensorInfo; x: TensorInfo; gamma: TensorInfo; mean: TensorInfo; invStd: TensorInfo };
    backend: WasmBackendLike;
  };
  const { dy, x, gamma, mean, invStd } = inputs;
  const { rows, cols: D } = lastAxisRows(x);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dGammaOut = backend.makeOutput([D], 'float32');
  const dBetaOut = backend.makeOutput([D], 'float32');
  const simd = heapKernels(backend);
  if (simd !== null) {
    const blocks = Math.ceil(rows / SUM_BLOCK_ROWS);
    const scratch = new HeapScratch(backend);
    try {
      const dgAt = scratch.alloc(blocks * D);
      const dbAt = scratch.alloc(blocks * D);
      const [dyAt, xAt, gAt, mAt, iAt, dxAt] = [dy, x, gamma, mean, invStd, dx].map((t) => offsetOf(backend, t));
      simd.lnBackward(dyAt, xAt, gAt, mAt, iAt, dxAt, dgAt, dbAt, D, 0, rows);
      (backend.typedArrayFromHeap(dGammaOut) as Float32Array).set(addBlocks(scratch.view(dgAt, blocks * D), blocks, D, 1));
      (backend.typedArrayFromHeap(dBetaOut) as Float32Array).set(addBlocks(scratch.view(dbAt, blocks * D), blocks, D, 1));
    } finally {
      scratch.free();
    }
    return [dx, dGammaOut, dBetaOut];
  }
  const [dys, xs, g, ms, is, dxs, dgs, dbs] = [dy, x, gamma, mean, invStd, dx, dGammaOut, dBetaOut].map(
    (t) => backend.typedArrayFromHeap(t) as Float32Array,
  );
  const dG = new Float64Array(D);
  const dB = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let a = 0;
    let b = 0;
    for (let c = 0; c < D; c++) {
      const xh = (xs[o + c] - ms[r]) * is[r];
      const gc = dys[o + c] * g[c];
      a += gc;
      b += gc * xh;
      dG[c] += dys[o + c] * xh;
      dB[c] += dys[o + c];
    }
    for (let c = 0; c < D; c++) {
      const xh = (xs[o + c] - ms[r]) * is[r];
      dxs[o + c] = (dys[o + c] * g[c] - a / D - (xh * b) / D) * is[r];
    }
  }
  dgs.set(dG);
  dbs.set(dB);
  return [dx, dGammaOut, dBetaOut];
};
