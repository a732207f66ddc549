import { util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo, TileAttrs } from '@tensorflow/tfjs-core';
import { type StockKernels, type WasmBackendLike, withScope } from './kernel-scope.js';

/** XNNPACK's binary ops broadcast over at most this many dimensions. */
const MAX_BROADCAST_RANK = 6;

/**
 * Describes `tile(x, reps)` as a broadcast: x reshaped to `xShape` plus zeros of `zShape`.
 *
 * @remarks
 * out[r·s + j] = x[j] along every axis, so each axis splits into (reps, size) with the reps
 * outermost; x carries the sizes, the zeros carry the reps. Axes of extent 1 are dropped and
 * neighbours of the same kind merged, so BatchNorm's tile of (1,1,1,C) by (N,H,W,1) becomes
 * (1,C) + (N·H·W,1).
 */
export function tileAsBroadcast(shape: readonly number[], reps: readonly number[]): { xShape: number[]; zShape: number[] } {
  const segs: Array<{ rep: boolean; size: number }> = [];
  const push = (rep: boolean, size: number): void => {
    if (size === 1) return;
    const last = segs[segs.length - 1];
    if (last !== undefined && last.rep === rep) last.size *= size;
    else segs.push({ rep, size });
  };
  for (let i = 0; i < shape.length; i++) {
    push(true, reps[i]);
    push(false, shape[i]);
  }
  return {
    xShape: segs.map((s) => (s.rep ? 1 : s.size)),
    zShape: segs.map((s) => (s.rep ? s.size : 1)),
  };
}

/**
 * `Tile` for 'wasm': float32 tiles run as one broadcast Add on XNNPACK instead of the stock
 * element-by-element copy; other dtypes and zero-sized tensors use the stock kernel.
 */
export function makeTile(stock: StockKernels): KernelFunc {
  const stockFn = stock.get('Tile')!;
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: TensorInfo };
      backend: WasmBackendLike;
      attrs: TileAttrs;
    };
    const { x } = inputs;
    const { reps } = attrs;
    const outShape = x.shape.map((d, i) => d * reps[i]);
    if (x.dtype !== 'float32' || util.sizeFromShape(outShape) === 0 || reps.length !== x.shape.length) return stockFn(args);
    const { xShape, zShape } = tileAsBroadcast(x.shape, reps);
    if (xShape.length > MAX_BROADCAST_RANK || zShape.every((d) => d === 1)) return stockFn(args);
    return withScope(backend, stock, (scope) => {
      const xs = scope.reshape(x, xShape);
      const zeros = scope.run('Fill', {}, { shape: zShape, value: 0, dtype: 'float32' });
      const sum = scope.run('Add', { a: xs, b: zeros });
      return scope.reshape(sum, outShape);
    });
  };
}
