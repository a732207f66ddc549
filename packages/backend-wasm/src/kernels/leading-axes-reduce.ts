import { util } from '@tensorflow/tfjs-core';
import type { KernelFunc, SumAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import type { StockKernels, WasmBackendLike } from './kernel-scope.js';
import { HeapScratch, heapKernels, offsetOf } from './on-heap.js';

/** Reductions of at least this many elements use the SIMD column sums (below, JS is as fast). */
const SIMD_REDUCE_MIN_ELEMENTS = 1 << 16;

/**
 * Column sums on the package's SIMD kernel, reading the tensor where it lies on the tfjs heap
 * (float32 blocks of 64 rows, float64 totals), or false when the kernels are not loaded or `cols`
 * is not a multiple of 4.
 */
function simdColumnSums(backend: WasmBackendLike, x: TensorInfo, rows: number, cols: number, out: TensorInfo, scale: number): boolean {
  const k = heapKernels(backend);
  if (k === null || cols % 4 !== 0) return false;
  const scratch = new HeapScratch(backend);
  try {
    const blockAt = scratch.alloc(cols);
    const accAt = scratch.alloc(cols * 2);
    k.columnSums(offsetOf(backend, x), cols, blockAt, accAt, 0, rows, 0);
    const acc = new Float64Array(backend.wasm.HEAPU8.buffer, accAt, cols);
    const os = backend.typedArrayFromHeap(out) as Float32Array;
    for (let c = 0; c < cols; c++) os[c] = acc[c] * scale;
  } finally {
    scratch.free();
  }
  return true;
}

/**
 * How a reduction of a tensor of `shape` over `axis` reads as column sums of a matrix.
 *
 * @param shape - the input's shape
 * @param axis - the reduced axes (negative counts from the end)
 * @returns `{ rows, cols }` when the reduced axes (size-1 axes ignored) are exactly the leading
 *   ones and both products exceed 1; undefined otherwise (the stock kernel then runs)
 */
export function leadingReduction(shape: readonly number[], axis: number | number[]): { rows: number; cols: number } | undefined {
  const rank = shape.length;
  const axes = new Set(util.parseAxisParam(axis, shape as number[]));
  let rows = 1;
  let cols = 1;
  let inCols = false;
  for (let i = 0; i < rank; i++) {
    if (shape[i] === 1) continue;
    if (axes.has(i)) {
      if (inCols) return undefined;
      rows *= shape[i];
    } else {
      inCols = true;
      cols *= shape[i];
    }
  }
  // Nothing kept (a full reduction) or nothing reduced: the stock kernel has no transpose then.
  if (rows === 1 || cols === 1) return undefined;
  return { rows, cols };
}

/**
 * Column sums of a row-major `[rows, cols]` matrix, scaled: out[c] = scale · Σ_r x[r·cols + c], summed in float64 four rows at a time (one pass over x).
 */
export function columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array, scale: number): void {
  const acc = new Float64Array(cols);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const o0 = r * cols;
    const o1 = o0 + cols;
    const o2 = o1 + cols;
    const o3 = o2 + cols;
    for (let c = 0; c < cols; c++) acc[c] += x[o0 + c] + x[o1 + c] + (x[o2 + c] + x[o3 + c]);
  }
  for (; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += x[o + c];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c] * scale;
}

/**
 * `Sum` or `Mean` for 'wasm' with a fast path for reductions over leading axes.
 *
 * @remarks
 * The stock kernels reduce only innermost axes: for any other axis they first transpose the
 * whole input. Training reduces over leading axes all the time — BatchNorm's mean and variance
 * over N,H,W of NHWC, every bias and BatchNorm-parameter gradient over the batch (and token)
 * axes — so each of those paid a full transpose. Here such a reduction is one pass of column
 * sums: on the package's SIMD kernel (on the tfjs heap, no copy) from {@link SIMD_REDUCE_MIN_ELEMENTS} elements, in JS
 * (float64 accumulators) below; other reductions and non-float32 inputs use the stock kernel.
 */
export function makeLeadingAxesReduce(stock: StockKernels, kind: 'Sum' | 'Mean'): KernelFunc {
  const stockFn = stock.get(kind)!;
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as { inputs: { x: TensorInfo }; backend: WasmBackendLike; attrs: SumAttrs };
    const { x } = inputs;
    const { axis, keepDims } = attrs;
    if (x.dtype !== 'float32') return stockFn(args);
    const plan = leadingReduction(x.shape, axis);
    if (plan === undefined) return stockFn(args);
    const axes = util.parseAxisParam(axis, x.shape);
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const out = backend.makeOutput(outShape, 'float32');
    const scale = kind === 'Mean' ? 1 / plan.rows : 1;
    const simd = plan.rows * plan.cols >= SIMD_REDUCE_MIN_ELEMENTS;
    if (!(simd && simdColumnSums(backend, x, plan.rows, plan.cols, out, scale))) {
      columnSums(
        backend.typedArrayFromHeap(x) as Float32Array,
        plan.rows,
        plan.cols,
        backend.typedArrayFromHeap(out) as Float32Array,
        scale,
      );
    }
    return out;
  };
}
