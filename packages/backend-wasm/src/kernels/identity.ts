import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { StockKernels, WasmBackendLike } from './kernel-scope.js';

/**
 * `Identity` for 'wasm' that shares the input's heap buffer instead of copying it.
 *
 * @remarks
 * The engine clones (runs `Identity` on) every tensor a gradient function saves for the
 * backward pass, and the stock wasm kernel copies the data: in training that is ~600 copies of
 * activations per ResNet-18 step, and the copies live until the backward pass ends, so they
 * double the heap the saved activations take. tfjs tensors are immutable (a variable's
 * `assign` points it at a new buffer), so sharing the buffer with a reference count — what the
 * cpu backend's `Identity` and the wasm `Reshape` already do — is indistinguishable from a
 * copy. Strings keep the stock kernel.
 */
export function makeIdentity(stock: StockKernels): KernelFunc {
  const stockFn = stock.get('Identity')!;
  return (args) => {
    const { inputs, backend } = args as unknown as { inputs: { x: TensorInfo }; backend: WasmBackendLike };
    const { x } = inputs;
    if (x.dtype === 'string') return stockFn(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}
