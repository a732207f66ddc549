import { broadcast_util, util } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelScope, type StockKernels, type WasmBackendLike, withScope } from './kernel-scope.js';
import { simdMatMul } from '../simd/mat-mul-simd.js';
import { simdConvGradientsWanted } from '../simd/simd-module.js';
import { HeapScratch, heapKernels, offsetOf } from './on-heap.js';

/**
 * Products of at least this many multiply-adds with one right-hand matrix go to the SIMD
 * kernels (below, copying the operands in and out of their memory costs more than it saves).
 */
const SIMD_MATMUL_MIN_MACS = 1 << 20;

/**
 * Longest reduction for which `A·B` / `A·Bᵀ` use the gather kernel: it re-reads one 8-column
 * tile of B (K × 32 bytes) per four rows of A, which must stay in L2. `Aᵀ·B` has no limit.
 */
const SIMD_MATMUL_MAX_K = 4096;

type RawBatchMatMul = (...args: unknown[]) => void;
const rawBatchMatMulByModule = new WeakMap<object, RawBatchMatMul>();

/** The C++ `BatchMatMul` entry point of this backend's wasm module (cwrap is cached per module). */
function rawBatchMatMul(backend: WasmBackendLike): RawBatchMatMul {
  let fn = rawBatchMatMulByModule.get(backend.wasm);
  if (fn === undefined) {
    fn = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    rawBatchMatMulByModule.set(backend.wasm, fn);
  }
  return fn;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * Batches at or below this many multiply-adds per matrix product go to the stock loop; above,
 * each product gets its own XNNPACK call. Measured with bench/kernels.ts (see README): the per
 * call cost (operator creation, weight packing) is a few microseconds, so even small attention
 * products (65×64×65 ≈ 270k MACs) favour XNNPACK.
 */
const PER_BATCH_MIN_MACS = 4096;

/**
 * C[i] = A[i or 0] · B[i or 0] for every batch index, one XNNPACK fully-connected call each, on
 * zero-copy views into the operands' wasm heap buffers.
 *
 * @remarks
 * A view is a fresh tensor id registered with the C++ side at an offset inside an existing
 * buffer (`registerTensor`) and unregistered with `tfjs.disposeData`, which also deletes the
 * XNNPACK operator the C++ side cached for it; the JS side never `_free`s a view.
 */
function perBatchMatMul(scope: KernelScope, a3: TensorInfo, b3: TensorInfo, batch: number, M: number, K: number, N: number): TensorInfo {
  const backend = scope.backend;
  const out = scope.track(backend.makeOutput([batch, M, N], 'float32'));
  const fn = rawBatchMatMul(backend);
  const aBase = backend.dataIdMap.get(a3.dataId)!.memoryOffset;
  const bBase = backend.dataIdMap.get(b3.dataId)!.memoryOffset;
  const oBase = backend.dataIdMap.get(out.dataId)!.memoryOffset;
  const aStride = a3.shape[0] === 1 ? 0 : M * K;
  const bStride = b3.shape[0] === 1 ? 0 : K * N;
  const aShape = shapeBytes([1, M, K]);
  const bShape = shapeBytes([1, K, N]);
  const { tfjs } = backend.wasm;
  for (let i = 0; i < batch; i++) {
    const aId = backend.dataIdNextNumber++;
    const bId = backend.dataIdNextNumber++;
    const oId = backend.dataIdNextNumber++;
    tfjs.registerTensor(aId, M * K, aBase + 4 * i * aStride);
    tfjs.registerTensor(bId, K * N, bBase + 4 * i * bStride);
    tfjs.registerTensor(oId, M * N, oBase + 4 * i * M * N);
    try {
      fn(aId, aShape, 3, bId, bShape, 3, false, false, oId);
    } finally {
      tfjs.disposeData(aId);
      tfjs.disposeData(bId);
      tfjs.disposeData(oId);
    }
  }
  return out;
}

/** Whether the backend exposes what {@link perBatchMatMul} needs (tfjs-backend-wasm 4.x does). */
function supportsViews(backend: WasmBackendLike): boolean {
  return (
    typeof backend.dataIdNextNumber === 'number' &&
    typeof backend.wasm?.tfjs?.registerTensor === 'function' &&
    typeof backend.wasm?.tfjs?.disposeData === 'function' &&
    typeof backend.wasm?.cwrap === 'function'
  );
}

/**
 * `BatchMatMul` for 'wasm' that keeps every product on XNNPACK.
 *
 * @remarks
 * The stock kernel uses XNNPACK only for batch 1 without transposes and otherwise a scalar loop
 * (~1.9 GFLOP/s) that also ignores batch broadcasting. Here transposed operands are transposed
 * physically first (a cheap O(size) pass); a batch-1 right operand folds the whole left batch
 * into one product (dense layers on rank-3 activations); other batches loop over per-matrix
 * XNNPACK calls on zero-copy views, or use the stock loop for tiny products. Batches of equal
 * size on both sides (attention) run on the package's batched SIMD kernel where it is loaded,
 * reading transposed operands in place.
 */
export function makeBatchMatMul(stock: StockKernels): KernelFunc {
  const stockFn = stock.get('BatchMatMul')!;
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { a: TensorInfo; b: TensorInfo };
      backend: WasmBackendLike;
      attrs: BatchMatMulAttrs;
    };
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stockFn(args);
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    const M = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
    const K = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
    const Kb = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
    const N = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    // Shape errors: let the stock kernel raise its own message.
    if (K !== Kb) return stockFn(args);
    const outer = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const outShape = [...outer, M, N];
    const batch = util.sizeFromShape(outer);
    // One right-hand matrix (dense layers and their gradients): the SIMD kernels, no transposes.
    if (batchB === 1 && (batchA === 1 || !transposeA) && simdConvGradientsWanted() && batch * M * K * N >= SIMD_MATMUL_MIN_MACS) {
      if (transposeA || K <= SIMD_MATMUL_MAX_K) {
        const r = simdMatMul(backend, a, b, batchA * M, K, N, transposeA, transposeB);
        if (r !== null) {
          if (outShape.length === 2) return r;
          return withScope(backend, stock, (scope) => scope.reshape(scope.track(r), outShape));
        }
      }
    }

    // Many products of the same batch size (attention): one SIMD call on the tfjs heap, transposes
    // read in place.
    if (batchA === batch && batchB === batch && batch > 1 && M * N > 0) {
      const r = batchedOnHeap(backend, a, b, outShape, batch, M, K, N, transposeA, transposeB);
      if (r !== null) return r;
    }

    if (batchA === 1 && batchB === 1 && !transposeA && !transposeB) return stockFn(args);
    if (batch === 0 || M * N === 0) return stockFn(args);

    return withScope(backend, stock, (scope) => {
      const a3 = transposeA ? scope.transpose(scope.reshape(a, [batchA, K, M]), [0, 2, 1]) : scope.reshape(a, [batchA, M, K]);
      const b3 = transposeB ? scope.transpose(scope.reshape(b, [batchB, N, K]), [0, 2, 1]) : scope.reshape(b, [batchB, K, N]);
      if (batchB === 1) {
        // One weight matrix for the whole batch: a single (batch·M) × K product.
        const a2 = scope.reshape(a3, [1, batchA * M, K]);
        const r = scope.run('BatchMatMul', { a: a2, b: b3 }, { transposeA: false, transposeB: false });
        return scope.reshape(r, outShape);
      }
      const simpleBroadcast = batchA === batch || batchA === 1;
      if (simpleBroadcast && batchB === batch && supportsViews(backend) && M * K * N > PER_BATCH_MIN_MACS) {
        return scope.reshape(perBatchMatMul(scope, a3, b3, batch, M, K, N), outShape);
      }
      if (batchA === batchB) {
        const r = scope.run('BatchMatMul', { a: a3, b: b3 }, { transposeA: false, transposeB: false });
        return scope.reshape(r, outShape);
      }
      // General broadcast (e.g. [2,1] × [1,3]): materialise both batches, then loop.
      const aFull = broadcastBatch(scope, a3, a.shape.slice(0, -2), outer, M, K);
      const bFull = broadcastBatch(scope, b3, b.shape.slice(0, -2), outer, K, N);
      if (supportsViews(backend)) {
        return scope.reshape(perBatchMatMul(scope, aFull, bFull, batch, M, K, N), outShape);
      }
      const r = scope.run('BatchMatMul', { a: aFull, b: bFull }, { transposeA: false, transposeB: false });
      return scope.reshape(r, outShape);
    });
  };
}

/**
 * C[t] = op(A[t])·op(B[t]) for every t on the package's SIMD kernel (assembly/batched-mat-mul.ts)
 * bound to the tfjs heap, or null where the SIMD kernels are not in use.
 */
function batchedOnHeap(
  backend: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  outShape: number[],
  batch: number,
  M: number,
  K: number,
  N: number,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo | null {
  const k = heapKernels(backend);
  if (k === null) return null;
  const out = backend.makeOutput(outShape, 'float32');
  const scratch = new HeapScratch(backend);
  try {
    // Each thread packs its B matrices in its own scratch.
    const packed = scratch.alloc(k.threads * Math.ceil(N / 8) * 8 * K);
    const [aAt, bAt, outAt] = [a, b, out].map((t) => offsetOf(backend, t));
    k.batchedMatMul(aAt, bAt, outAt, M, K, N, transposeA ? 1 : 0, transposeB ? 1 : 0, packed, 0, batch, 0);
  } finally {
    scratch.free();
  }
  return out;
}

/** Broadcasts the batch dims of a (batch, r, c) operand to `outer` (x + zeros, on XNNPACK). */
function broadcastBatch(scope: KernelScope, t3: TensorInfo, dims: number[], outer: number[], r: number, c: number): TensorInfo {
  const lead = outer.length - dims.length;
  const full = [...new Array<number>(lead).fill(1), ...dims];
  if (full.every((d, i) => d === outer[i])) return t3;
  const xs = scope.reshape(t3, [...full, r, c]);
  const zeros = scope.run('Fill', {}, { shape: [...outer.map((d, i) => (full[i] === 1 ? d : 1)), 1, 1], value: 0, dtype: 'float32' });
  const sum = scope.run('Add', { a: xs, b: zeros });
  return scope.reshape(sum, [util.sizeFromShape(outer), r, c]);
}
