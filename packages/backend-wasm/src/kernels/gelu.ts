import { backend_util, util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './kernel-scope.js';
import { heapKernels, offsetOf } from './on-heap.js';

/** 1 + erf(z), Abramowitz & Stegun 7.1.26 as tfjs's Erf kernels compute it, given exp(−z²). */
function onePlusErf(z: number, e: number): number {
  const t = 1 / (1 + backend_util.ERF_P * Math.abs(z));
  const tail =
    ((((backend_util.ERF_A5 * t + backend_util.ERF_A4) * t + backend_util.ERF_A3) * t + backend_util.ERF_A2) * t + backend_util.ERF_A1) *
    t *
    e;
  return z < 0 ? tail : 2 - tail;
}

/** `FUSED_GELU_KERNELS.forward` of core for 'wasm': one SIMD pass on the tfjs heap (assembly/gelu.ts), or scalar JS. */
export const gelu: KernelFunc = (args) => {
  const { inputs, backend } = args as unknown as { inputs: { x: TensorInfo }; backend: WasmBackendLike };
  const { x } = inputs;
  const n = util.sizeFromShape(x.shape);
  const y = backend.makeOutput([...x.shape], 'float32');
  const simd = heapKernels(backend);
  if (simd !== null) {
    simd.geluForward(offsetOf(backend, x), offsetOf(backend, y), 0, n);
    return y;
  }
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const ys = backend.typedArrayFromHeap(y) as Float32Array;
  for (let i = 0; i < n; i++) {
    const z = xs[i] * Math.SQRT1_2;
    ys[i] = 0.5 * xs[i] * onePlusErf(z, Math.exp(-z * z));
  }
  return y;
};

/** `FUSED_GELU_KERNELS.gradient` of core for 'wasm': one SIMD pass on the tfjs heap, or scalar JS. */
export const geluGrad: KernelFunc = (args) => {
  const { inputs, backend } = args as unknown as { inputs: { dy: TensorInfo; x: TensorInfo }; backend: WasmBackendLike };
  const { dy, x } = inputs;
  const n = util.sizeFromShape(x.shape);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const simd = heapKernels(backend);
  if (simd !== null) {
    simd.geluBackward(offsetOf(backend, dy), offsetOf(backend, x), offsetOf(backend, dx), 0, n);
    return dx;
  }
  const [gs, xs, out] = [dy, x, dx].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const density = 1 / Math.sqrt(2 * Math.PI);
  for (let i = 0; i < n; i++) {
    const z = xs[i] * Math.SQRT1_2;
    const e = Math.exp(-z * z);
    out[i] = gs[i] * (0.5 * onePlusErf(z, e) + xs[i] * e * density);
  }
  return dx;
};
