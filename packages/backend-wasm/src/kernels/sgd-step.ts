import { util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './kernel-scope.js';
import { heapKernels, offsetOf } from './on-heap.js';

interface SgdArgs {
  inputs: { w: TensorInfo; dw: TensorInfo; buf?: TensorInfo; mask?: TensorInfo };
  attrs: { lr: number; momentum: number; weightDecay: number; nesterov: boolean };
  backend: WasmBackendLike;
}

/** `FUSED_SGD_KERNEL` of core for 'wasm': one SIMD pass over the tensors on the tfjs heap, or scalar JS. */
export const sgdStep: KernelFunc = (args) => {
  const { inputs, attrs, backend } = args as unknown as SgdArgs;
  const { w, dw, buf, mask } = inputs;
  const n = util.sizeFromShape(w.shape);
  const wOut = backend.makeOutput([...w.shape], 'float32');
  const bufOut = buf === undefined ? undefined : backend.makeOutput([...w.shape], 'float32');
  const outputs = bufOut === undefined ? [wOut] : [wOut, bufOut];
  const { lr, momentum, weightDecay, nesterov } = attrs;
  const simd = heapKernels(backend);
  if (simd !== null) {
    const at = (t: TensorInfo | undefined) => (t === undefined ? 0 : offsetOf(backend, t));
    simd.sgdStep(at(w), at(dw), at(buf), at(mask), at(wOut), at(bufOut), n, lr, momentum, weightDecay, nesterov ? 1 : 0);
    return outputs;
  }
  const f = Math.fround;
  const view = (t: TensorInfo | undefined) => (t === undefined ? undefined : (backend.typedArrayFromHeap(t) as Float32Array));
  const [ws, gs, bs, ms, wo, bo] = [w, dw, buf, mask, wOut, bufOut].map(view);
  const [lr32, mu32, wd32] = [f(lr), f(momentum), f(weightDecay)];
  for (let i = 0; i < n; i++) {
    let g = gs![i];
    if (weightDecay !== 0) g = f(g + f(ws![i] * wd32));
    if (ms !== undefined) g = f(g * ms[i]);
    let u = g;
    if (bs !== undefined) {
      const b = f(f(bs[i] * mu32) + g);
      bo![i] = b;
      u = nesterov ? f(g + f(b * mu32)) : b;
    }
    let next = f(ws![i] - f(u * lr32));
    if (ms !== undefined) next = f(next * ms[i]);
    wo![i] = next;
  }
  return outputs;
};
