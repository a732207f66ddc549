import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from '../kernels/kernel-scope.js';
import { copyCropped, filterScratchFloats, heapView, packX, rowsPerBlock, stagePadded } from './conv-gradients-simd.js';
import { SimdArena, simdKernels } from './simd-module.js';

const roundUp = (v: number, m: number): number => Math.ceil(v / m) * m;

/**
 * C = op(A) · op(B) for one right-hand matrix on the package's SIMD kernels, or null when they
 * are not loaded or the form is not covered (both operands transposed).
 *
 * @param a - `[P, K]`, or `[K, P]` with `transposeA` (any leading dims folded into P)
 * @param b - `[K, N]`, or `[N, K]` with `transposeB`
 * @returns `[P, N]`
 *
 * @remarks
 * A matrix product is a 1×1 convolution, so the two convolution-gradient kernels cover it
 * without a physical transpose: `A·B` and `A·Bᵀ` are the gather kernel (4 rows × 8 columns
 * per register tile, B packed into 8-column tiles), and `Aᵀ·B` — a dense layer's weight
 * gradient, whose reduction runs over all tokens — is the filter-gradient kernel, which reads
 * both operands row by row.
 */
export function simdMatMul(
  backend: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  P: number,
  K: number,
  N: number,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo | null {
  const k = simdKernels();
  if (k === null || (transposeA && transposeB)) return null;
  const arena = new SimdArena(k);
  const out = (rows: number, cols: number, src: Float32Array, srcCols: number): TensorInfo => {
    const o = backend.makeOutput([rows, cols], 'float32');
    copyCropped(src, 1, rows, srcCols, heapView(backend, o), rows, cols);
    return o;
  };

  if (transposeA) {
    // Aᵀ·B: A [K, P] and B [K, N] are both "pixels × channels" with K pixels, laid out as rows
    // of 64 pixels (zero rows pad K) so the kernel's pixel blocks stay in cache.
    const C4 = roundUp(P, 4);
    const N8 = roundUp(N, 8);
    const Wo = 64;
    const Ho = Math.ceil(K / Wo);
    const Kp = Ho * Wo;
    const xAt = stagePadded(arena, backend, a, [1, 1, K, P], [1, Kp, C4], 0, 0);
    const dyAt = stagePadded(arena, backend, b, [1, 1, K, N], [1, Kp, N8], 0, 0);
    const wAt = arena.zeros(C4 * N8);
    const rows = rowsPerBlock(Wo);
    const scratchAt = arena.alloc(filterScratchFloats(k.threads, rows, Wo, C4, N8));
    k.filterGradient(xAt, dyAt, wAt, 1, Ho, Wo, C4, Ho, Wo, N8, 1, 1, 1, 1, 1, 1, rows, scratchAt, packX(N8));
    return out(P, N, arena.view(wAt, C4 * N8), N8);
  }

  // A·op(B): rows of A are the gather kernel's pixels, laid out as image rows of 32 (so threads
  // can share the rows), and B is packed into 8-column tiles.
  const N8 = roundUp(N, 8);
  const ROW = 32;
  const H = Math.ceil(P / ROW);
  const Px = H * ROW;
  const aAt = stagePadded(arena, backend, a, [1, 1, P, K], [1, Px, K], 0, 0);
  const bAt = arena.zeros(K * N8);
  const cAt = arena.alloc(Px * N8);
  const bv = arena.view(bAt, K * N8);
  const src = heapView(backend, b);
  // bv[n/8, k, n%8] = op(B)[k, n], walking the source in memory order.
  if (transposeB) {
    for (let n = 0; n < N; n++) {
      const d = (n >> 3) * K * 8 + (n & 7);
      const row = n * K;
      for (let kk = 0; kk < K; kk++) bv[d + kk * 8] = src[row + kk];
    }
  } else {
    for (let kk = 0; kk < K; kk++) {
      const row = kk * N;
      for (let n = 0; n < N; n++) bv[(n >> 3) * K * 8 + kk * 8 + (n & 7)] = src[row + n];
    }
  }
  k.inputGradient(aAt, bAt, cAt, 1, H, ROW, N8, H, ROW, K, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0);
  return out(P, N, arena.view(cAt, Px * N8), N8);
}
