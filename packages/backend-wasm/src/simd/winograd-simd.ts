import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { ConvGeometry } from '../kernels/conv-gradients.js';
import type { WasmBackendLike } from '../kernels/kernel-scope.js';
import { filterScratchFloats, heapView, packX, rowsPerBlock, stagePadded } from './conv-gradients-simd.js';
import { SimdArena, simdKernels } from './simd-module.js';

const roundUp = (v: number, m: number): number => Math.ceil(v / m) * m;

/** One stride-1, 3×3, undilated correlation to run with Winograd F(2×2, 3×3). */
export interface WinogradConv {
  /** NHWC input [N, H, W, Cin]. */
  src: TensorInfo;
  /** Output [Ho, Wo, Cout] per image. */
  outDims: [number, number, number];
  padTop: number;
  padLeft: number;
  /** The 3×3 filter's value at (kh, kw) from input channel ci to output channel co. */
  weight: (kh: number, kw: number, ci: number, co: number) => number;
}

/**
 * A stride-1 3×3 convolution with Winograd F(2×2, 3×3) on the package's SIMD kernels, or null
 * when they are not loaded.
 *
 * @remarks
 * Each 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A (Lavin & Gray): 16 multiplies per tile and
 * channel pair instead of 36. The input transform (`winogradInput`) writes 16 planes
 * V[ξν] = [tiles × Cin], the filter transform (here, in JS) 16 planes U[ξν] = [Cin × Cout]
 * packed for the gather kernel, which runs the 16 products M[ξν] = V[ξν]·U[ξν] as matrix
 * products, and `winogradOutput` folds M back into 2×2 tiles.
 */
function simdWinogradConv(backend: WasmBackendLike, c: WinogradConv): TensorInfo | null {
  const k = simdKernels();
  if (k === null) return null;
  const [N, H, W, Cin] = c.src.shape;
  const [Ho, Wo, Cout] = c.outDims;
  const th = Math.ceil(Ho / 2);
  const tw = Math.ceil(Wo / 2);
  const tiles = N * th * tw;
  const Tx = roundUp(tiles, 32);
  const C4 = roundUp(Cin, 4);
  const K8 = roundUp(Cout, 8);
  const Hp = 2 * th + 2;
  const Wp = 2 * tw + 2;

  const arena = new SimdArena(k);
  const xpAt = stagePadded(arena, backend, c.src, [N, H, W, Cin], [Hp, Wp, C4], c.padTop, c.padLeft);
  const vAt = arena.alloc(16 * Tx * C4);
  const uAt = arena.zeros(16 * C4 * K8);
  const mAt = arena.alloc(16 * Tx * K8);
  const yAt = arena.alloc(N * 2 * th * 2 * tw * K8);

  // U[ξν][co/8][ci][co%8] = (G g Gᵀ)[ξ][ν], G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]].
  const u = arena.view(uAt, 16 * C4 * K8);
  const plane = C4 * K8;
  const g = new Float64Array(9);
  const gg = new Float64Array(12);
  for (let ci = 0; ci < Cin; ci++) {
    for (let co = 0; co < Cout; co++) {
      for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) g[kh * 3 + kw] = c.weight(kh, kw, ci, co);
      // G g: 4 × 3
      for (let j = 0; j < 3; j++) {
        const a = g[j];
        const b = g[3 + j];
        const d = g[6 + j];
        gg[j] = a;
        gg[3 + j] = 0.5 * (a + b + d);
        gg[6 + j] = 0.5 * (a - b + d);
        gg[9 + j] = d;
      }
      const at = ((co >> 3) * C4 + ci) * 8 + (co & 7);
      // (G g) Gᵀ: 4 × 4
      for (let i = 0; i < 4; i++) {
        const a = gg[i * 3];
        const b = gg[i * 3 + 1];
        const d = gg[i * 3 + 2];
        u[i * 4 * plane + at] = a;
        u[(i * 4 + 1) * plane + at] = 0.5 * (a + b + d);
        u[(i * 4 + 2) * plane + at] = 0.5 * (a - b + d);
        u[(i * 4 + 3) * plane + at] = d;
      }
    }
  }

  k.winogradInput(xpAt, vAt, th, tw, C4, Tx, tiles);
  for (let p = 0; p < 16; p++) {
    const rows = Tx / 32;
    k.inputGradient(
      vAt + p * Tx * C4 * 4,
      uAt + p * plane * 4,
      mAt + p * Tx * K8 * 4,
      1,
      rows,
      32,
      K8,
      rows,
      32,
      C4,
      1,
      1,
      1,
      1,
      1,
      1,
      0,
      0,
      0,
      0,
    );
  }
  k.winogradOutput(mAt, yAt, th, tw, K8, Tx, tiles);

  const out = backend.makeOutput([N, Ho, Wo, Cout], 'float32');
  const dst = heapView(backend, out);
  const y = arena.view(yAt, N * 2 * th * 2 * tw * K8);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < Ho; i++) {
      const rowSrc = (n * 2 * th + i) * 2 * tw * K8;
      const rowDst = (n * Ho + i) * Wo * Cout;
      if (K8 === Cout && Wo === 2 * tw) {
        dst.set(y.subarray(rowSrc, rowSrc + Wo * Cout), rowDst);
      } else {
        for (let j = 0; j < Wo; j++) dst.set(y.subarray(rowSrc + j * K8, rowSrc + j * K8 + Cout), rowDst + j * Cout);
      }
    }
  }
  return out;
}

/**
 * Whether Winograd F(2×2, 3×3) applies and pays: a 3×3, stride-1, undilated convolution on maps
 * of at least 8×8 with at least 64 channels in and out and 512 tiles (on 4×4 maps the filter transform and the short products cost more than the
 * 2.25× fewer multiplies save: bench/kernels.ts).
 */
export function isWinogradShape(g: ConvGeometry, kh: number, kw: number, cin: number, cout: number): boolean {
  const square = kh === 3 && kw === 3 && g.strideHeight === 1 && g.strideWidth === 1 && g.dilationHeight === 1 && g.dilationWidth === 1;
  const tiles = g.batchSize * Math.ceil(g.outHeight / 2) * Math.ceil(g.outWidth / 2);
  const bigEnough = Math.min(g.inHeight, g.inWidth, g.outHeight, g.outWidth) >= WINOGRAD_MIN_SIZE && tiles >= WINOGRAD_MIN_TILES;
  return square && bigEnough && Math.min(cin, cout) >= WINOGRAD_MIN_CHANNELS;
}

/**
 * Fewest 2×2 output tiles (over the batch) for Winograd: the filter transform costs the same
 * whatever the batch, so batch-1 passes (per-sample gradients) stay on the direct kernels.
 */
const WINOGRAD_MIN_TILES = 512;

/** Smallest map side on which {@link isWinogradShape} chooses Winograd. */
const WINOGRAD_MIN_SIZE = 8;

/**
 * Fewest channels (in and out) for Winograd: below, its transforms and the single-threaded
 * filter transform cost more than the multiplies saved, most visibly on 2 threads (ResNet-18 w16).
 */
export const WINOGRAD_MIN_CHANNELS = 64;

/** The forward conv (NHWC, filter [3, 3, Cin, Cout]) with Winograd, or null without the kernels. */
export function winogradForward(backend: WasmBackendLike, x: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const [, , Cin, Cout] = filter.shape;
  const f = heapView(backend, filter);
  return simdWinogradConv(backend, {
    src: x,
    outDims: [g.outHeight, g.outWidth, Cout],
    padTop: g.padTop,
    padLeft: g.padLeft,
    weight: (kh, kw, ci, co) => f[((kh * 3 + kw) * Cin + ci) * Cout + co],
  });
}

/**
 * dx of a 3×3 stride-1 conv with Winograd: the correlation of dy with the filter rotated by 180°
 * and its channels swapped, padded by 2 − pad.
 */
export function winogradInputGradient(backend: WasmBackendLike, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const [, , Cin, Cout] = filter.shape;
  const f = heapView(backend, filter);
  return simdWinogradConv(backend, {
    src: dy,
    outDims: [g.inHeight, g.inWidth, Cin],
    padTop: 2 - g.padTop,
    padLeft: 2 - g.padLeft,
    weight: (kh, kw, co, ci) => f[((2 - kh) * 3 + (2 - kw)) * Cin * Cout + ci * Cout + co],
  });
}

/**
 * dW of a 3×3 stride-1 undilated conv with Winograd F(3×3, 2×2), or null without the kernels.
 *
 * @remarks
 * dW[kh,kw] = Σ over 2×2 tiles of dy of the correlation of the tile with the 4×4 patch of the
 * padded x under it: per tile, Aᵀ[(G h Gᵀ) ⊙ (Bᵀ d B)]A with Aᵀ = [[1,1,1,0],[0,1,−1,0],[0,1,1,1]],
 * G = [[1,0],[½,½],[½,−½],[0,1]] and Bᵀ = F(2×2,3×3)'s with its last row negated — so the input
 * transform is `winogradInput`'s, the sign folded into the output transform. The sum over tiles
 * of the products is 16 reductions V[ξν]ᵀ·D[ξν] ([Cin × tiles]·[tiles × Cout]) on the
 * filter-gradient kernel: 16 multiplies per tile and channel pair instead of 36.
 */
export function winogradFilterGradient(backend: WasmBackendLike, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const k = simdKernels();
  if (k === null) return null;
  const [N, H, W, Cin] = x.shape;
  const Cout = dy.shape[3];
  const { outHeight: Ho, outWidth: Wo } = g;
  const th = Math.ceil(Ho / 2);
  const tw = Math.ceil(Wo / 2);
  const tiles = N * th * tw;
  const ROW = 64;
  const Tx = roundUp(tiles, ROW);
  const C4 = roundUp(Cin, 4);
  const K8 = roundUp(Cout, 8);
  const Hp = 2 * th + 2;
  const Wp = 2 * tw + 2;

  const arena = new SimdArena(k);
  const xpAt = stagePadded(arena, backend, x, [N, H, W, Cin], [Hp, Wp, C4], g.padTop, g.padLeft);
  const dyAt = stagePadded(arena, backend, dy, [N, Ho, Wo, Cout], [2 * th, 2 * tw, K8], 0, 0);
  const vAt = arena.alloc(16 * Tx * C4);
  const dAt = arena.alloc(16 * Tx * K8);
  const mAt = arena.zeros(16 * C4 * K8);
  const rows = rowsPerBlock(ROW);
  const scratchAt = arena.alloc(filterScratchFloats(k.threads, rows, ROW, C4, K8));
  // Rows of V and D past the last tile must be zero: the reductions run over all Tx rows.
  if (Tx > tiles) {
    for (let p = 0; p < 16; p++) {
      arena.view(vAt + (p * Tx + tiles) * C4 * 4, (Tx - tiles) * C4).fill(0);
      arena.view(dAt + (p * Tx + tiles) * K8 * 4, (Tx - tiles) * K8).fill(0);
    }
  }

  k.winogradInput(xpAt, vAt, th, tw, C4, Tx, tiles);
  k.winogradGradTransform(dyAt, dAt, th, tw, K8, Tx, tiles);
  const blocks = Tx / ROW;
  for (let p = 0; p < 16; p++) {
    k.filterGradient(
      vAt + p * Tx * C4 * 4,
      dAt + p * Tx * K8 * 4,
      mAt + p * C4 * K8 * 4,
      1,
      blocks,
      ROW,
      C4,
      blocks,
      ROW,
      K8,
      1,
      1,
      1,
      1,
      1,
      1,
      rows,
      scratchAt,
      packX(K8),
    );
  }

  // dW[kh][kw] = Σ_ξν Aᵀ[kh][ξ] s_ξ s_ν M[ξν] Aᵀ[kw][ν], s = (1, 1, 1, −1).
  const AT = [
    [1, 1, 1, 0],
    [0, 1, -1, 0],
    [0, 1, 1, -1],
  ]; // the sign of column 3 folded in
  const m = arena.view(mAt, 16 * C4 * K8);
  const out = backend.makeOutput([3, 3, Cin, Cout], 'float32');
  const dst = heapView(backend, out);
  const plane = C4 * K8;
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) {
      const coef: Array<[number, number]> = [];
      for (let xi = 0; xi < 4; xi++) {
        for (let nu = 0; nu < 4; nu++) {
          const w = AT[kh][xi] * AT[kw][nu];
          if (w !== 0) coef.push([(xi * 4 + nu) * plane, w]);
        }
      }
      const tap = (kh * 3 + kw) * Cin * Cout;
      for (let ci = 0; ci < Cin; ci++) {
        for (let co = 0; co < Cout; co++) {
          const at = ci * K8 + co;
          let sum = 0;
          for (const [off, w] of coef) sum += w * m[off + at];
          dst[tap + ci * Cout + co] = sum;
        }
      }
    }
  }
  return out;
}
