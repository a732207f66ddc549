import { util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo, UnsortedSegmentSumAttrs } from '@tensorflow/tfjs-core';
import { type StockKernels, type WasmBackendLike, withScope } from './kernel-scope.js';

/**
 * `UnsortedSegmentSum` for 'wasm' (absent from tfjs-backend-wasm 4.22; the gradient of gather,
 * i.e. of embeddings).
 *
 * @remarks
 * With every id in [0, numSegments) it is a `ScatterNd` (which sums duplicate indices) of the
 * rows of x at the ids. Ids outside the range are dropped, as TensorFlow does; that case runs a
 * plain loop over the heap because ScatterNd does not bounds-check.
 */
export function makeUnsortedSegmentSum(stock: StockKernels): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: TensorInfo; segmentIds: TensorInfo };
      backend: WasmBackendLike;
      attrs: UnsortedSegmentSumAttrs;
    };
    const { x, segmentIds } = inputs;
    const { numSegments } = attrs;
    const numIds = util.sizeFromShape(segmentIds.shape);
    const inner = numIds === 0 ? util.sizeFromShape(x.shape.slice(segmentIds.shape.length)) : util.sizeFromShape(x.shape) / numIds;
    const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    const ids = backend.typedArrayFromHeap(segmentIds);
    let valid = true;
    for (let i = 0; i < numIds; i++) {
      const id = ids[i];
      if (id < 0 || id >= numSegments) {
        valid = false;
        break;
      }
    }
    if (!valid || numIds === 0 || x.dtype === 'bool') {
      const out = backend.makeOutput(outShape, x.dtype);
      const o = backend.typedArrayFromHeap(out);
      o.fill(0);
      const xv = backend.typedArrayFromHeap(x);
      const idv = backend.typedArrayFromHeap(segmentIds);
      for (let i = 0; i < numIds; i++) {
        const id = idv[i];
        if (id < 0 || id >= numSegments) continue;
        for (let j = 0; j < inner; j++) o[id * inner + j] += xv[i * inner + j];
      }
      return out;
    }
    return withScope(backend, stock, (scope) => {
      const indices = scope.reshape(segmentIds, [numIds, 1]);
      const updates = scope.reshape(x, [numIds, inner]);
      const r = scope.run('ScatterNd', { indices, updates }, { shape: [numSegments, inner] });
      return scope.reshape(r, outShape);
    });
  };
}
