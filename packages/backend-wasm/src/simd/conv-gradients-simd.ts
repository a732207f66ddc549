import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { ConvGeometry } from '../kernels/conv-gradients.js';
import type { WasmBackendLike } from '../kernels/kernel-scope.js';
import { SimdArena, type SimdKernelExports, simdKernels } from './simd-module.js';

const roundUp = (v: number, m: number): number => Math.ceil(v / m) * m;
const floorDiv = (a: number, b: number): number => Math.floor(a / b);

/** A float32 view of a tensor's data on the tfjs wasm heap (re-taken after anything that may grow it). */
export function heapView(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  const offset = backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const size = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(backend.wasm.HEAPU8.buffer, offset, size);
}

/**
 * Copies NHWC `src` [N,H,W,C] into `dst` [N,Hd,Wd,Cd] at row/column offset (top, left), cropping
 * what falls outside, and sets everything else in `dst` to zero.
 *
 * @remarks With C = Cd each copied row is one contiguous range of `dst`, and only the gaps between
 * consecutive ranges (the padding) are zeroed, just before each copy: one pass over `dst` instead
 * of zeroing all of it first (a third of the staging time of a ResNet-18 w16 step).
 */
export function copyPadded(
  src: Float32Array,
  dims: [number, number, number, number],
  dst: Float32Array,
  dDims: [number, number, number],
  top: number,
  left: number,
): void {
  const [N, H, W, C] = dims;
  const [Hd, Wd, Cd] = dDims;
  const j0 = Math.max(0, -left);
  const j1 = Math.min(W, Wd - left);
  if (j1 <= j0 || C !== Cd) dst.fill(0);
  if (j1 <= j0) return;
  let zeroFrom = 0;
  for (let n = 0; n < N; n++) {
    for (let i = Math.max(0, -top); i < Math.min(H, Hd - top); i++) {
      const s = ((n * H + i) * W + j0) * C;
      const d = ((n * Hd + i + top) * Wd + j0 + left) * Cd;
      if (C === Cd) {
        if (d > zeroFrom) dst.fill(0, zeroFrom, d);
        dst.set(src.subarray(s, s + (j1 - j0) * C), d);
        zeroFrom = d + (j1 - j0) * C;
      } else {
        for (let j = 0; j < j1 - j0; j++) {
          for (let c = 0; c < C; c++) dst[d + j * Cd + c] = src[s + j * C + c];
        }
      }
    }
  }
  if (C === Cd && zeroFrom < dst.length) dst.fill(0, zeroFrom);
}

/**
 * Reserves [N, Hd, Wd, Cd] floats in the arena and copies the NHWC tensor `t` ([N, H, W, C] on
 * the tfjs heap) into it at row/column offset (top, left), zero everywhere else.
 * @returns the byte offset of the staged copy
 */
export function stagePadded(
  arena: SimdArena,
  backend: WasmBackendLike,
  t: TensorInfo,
  dims: [number, number, number, number],
  dDims: [number, number, number],
  top: number,
  left: number,
): number {
  const floats = dims[0] * dDims[0] * dDims[1] * dDims[2];
  const at = arena.alloc(floats);
  copyPadded(heapView(backend, t), dims, arena.view(at, floats), dDims, top, left);
  return at;
}

/**
 * Output rows per block of the filter-gradient kernel: about 256 pixels, whose packed dy and x
 * tiles (8 and 16 KB per tile) stay in L1 while a tile's accumulators sweep them.
 */
export function rowsPerBlock(Wo: number): number {
  return Math.max(1, Math.ceil(256 / Wo));
}

/**
 * Output channels (a multiple of 8) up to which the filter-gradient kernel reads x in place
 * rather than packing it per tap: the packed x is shared by K/8 tiles, too few below this to pay
 * for the packing (bench/kernels.ts: dW of 32×32×16 → 16 maps).
 */
const FILTER_GRADIENT_PACK_MIN_K = 24;

/** The filter-gradient kernel's `packX` argument for K8 output channels. */
export function packX(K8: number): number {
  return K8 >= FILTER_GRADIENT_PACK_MIN_K ? 1 : 0;
}

/** Scratch floats the filter-gradient kernel needs: one packed block per thread. */
export function filterScratchFloats(threads: number, rows: number, Wo: number, C4: number, K8: number): number {
  return threads * rows * Wo * (C4 + K8);
}

/**
 * dW of a regular (not depthwise) NHWC conv on the package's SIMD kernel, or null when the
 * kernels are not loaded.
 *
 * @remarks
 * x is copied zero-padded (spatially by the forward padding, channels to a multiple of 4) and dy
 * with its channels padded to a multiple of 8, so the kernel has no edge cases; the padded
 * channels contribute zeros and are dropped from the result.
 */
export function simdFilterGradient(backend: WasmBackendLike, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const k = simdKernels();
  if (k === null) return null;
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Cin, outHeight: Ho, outWidth: Wo } = g;
  const Cout = dy.shape[3];
  const KH = g.filterHeight;
  const KW = g.filterWidth;
  const C4 = roundUp(Cin, 4);
  const K8 = roundUp(Cout, 8);
  const Hp = (Ho - 1) * g.strideHeight + (KH - 1) * g.dilationHeight + 1;
  const Wp = (Wo - 1) * g.strideWidth + (KW - 1) * g.dilationWidth + 1;

  const arena = new SimdArena(k);
  const xpAt = stagePadded(arena, backend, x, [N, H, W, Cin], [Hp, Wp, C4], g.padTop, g.padLeft);
  const dyAt = stagePadded(arena, backend, dy, [N, Ho, Wo, Cout], [Ho, Wo, K8], 0, 0);
  const dwAt = arena.zeros(KH * KW * C4 * K8);
  const rows = rowsPerBlock(Wo);
  const scratchAt = arena.alloc(filterScratchFloats(k.threads, rows, Wo, C4, K8));

  k.filterGradient(
    xpAt,
    dyAt,
    dwAt,
    N,
    Hp,
    Wp,
    C4,
    Ho,
    Wo,
    K8,
    KH,
    KW,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    rows,
    scratchAt,
    packX(K8),
  );

  const out = backend.makeOutput([KH, KW, Cin, Cout], 'float32');
  const dst = heapView(backend, out);
  const dw = arena.view(dwAt, KH * KW * C4 * K8);
  copyCropped(dw, KH * KW, C4, K8, dst, Cin, Cout);
  return out;
}

/** Copies the [R, Ci, Ki] leading part of a [R, Cs, Ks] array into `dst` [R, Ci, Ki]. */
export function copyCropped(src: Float32Array, R: number, Cs: number, Ks: number, dst: Float32Array, Ci: number, Ki: number): void {
  if (Cs === Ci && Ks === Ki) {
    dst.set(src.subarray(0, R * Cs * Ks));
    return;
  }
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < Ci; c++) {
      const s = (r * Cs + c) * Ks;
      dst.set(src.subarray(s, s + Ki), (r * Ci + c) * Ki);
    }
  }
}

/**
 * dx of a regular NHWC conv on the package's SIMD kernel (gather form: a strided conv's input
 * gradient skips the zeros of the dilated dy), or null when the kernels are not loaded.
 */
export function simdInputGradient(backend: WasmBackendLike, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const k = simdKernels();
  if (k === null) return null;
  const [KH, KW, , Cout] = filter.shape;
  const f = heapView(backend, filter);
  return runGather(k, backend, {
    src: dy,
    srcDims: [g.batchSize, g.outHeight, g.outWidth, Cout],
    outDims: [g.inHeight, g.inWidth, g.inChannels],
    KH,
    KW,
    sH: g.strideHeight,
    sW: g.strideWidth,
    dH: g.dilationHeight,
    dW: g.dilationWidth,
    padT: g.padTop,
    padL: g.padLeft,
    // wt[ci/8, kh, kw, co, ci%8] = filter[kh, kw, ci, co]
    pack: (wt, taps, C, K) => {
      for (let t = 0; t < taps; t++) {
        for (let ci = 0; ci < C; ci++) {
          const s = (t * C + ci) * K;
          const d = ((ci >> 3) * taps + t) * K * 8 + (ci & 7);
          for (let co = 0; co < K; co++) wt[d + co * 8] = f[s + co];
        }
      }
    },
  });
}

/**
 * The forward pass of a stride-1 NHWC conv on the package's SIMD kernel, or null when the
 * kernels are not loaded.
 *
 * @remarks
 * With stride 1 the gather kernel is a correlation: output row `oh` reads input row
 * `oh + padT' − kh·d`, so the filter rotated by 180° and `padT' = (KH − 1)·d − padTop` give the
 * forward conv's `oh + kh·d − padTop`. The 4 output pixels × 8 output channels register tile
 * then runs over (tap, input channel).
 */
export function simdConv2D(backend: WasmBackendLike, x: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const k = simdKernels();
  if (k === null) return null;
  const [KH, KW, Cin, Cout] = filter.shape;
  const f = heapView(backend, filter);
  return runGather(k, backend, {
    src: x,
    srcDims: [g.batchSize, g.inHeight, g.inWidth, Cin],
    outDims: [g.outHeight, g.outWidth, Cout],
    KH,
    KW,
    sH: 1,
    sW: 1,
    dH: g.dilationHeight,
    dW: g.dilationWidth,
    padT: (KH - 1) * g.dilationHeight - g.padTop,
    padL: (KW - 1) * g.dilationWidth - g.padLeft,
    // wt[co/8, kh, kw, ci, co%8] = filter[KH−1−kh, KW−1−kw, ci, co]
    pack: (wt, taps, C, K) => {
      for (let t = 0; t < taps; t++) {
        const ft = taps - 1 - t;
        for (let ci = 0; ci < K; ci++) {
          const s = (ft * K + ci) * C;
          for (let co = 0; co < C; co++) wt[((co >> 3) * taps + t) * K * 8 + ci * 8 + (co & 7)] = f[s + co];
        }
      }
    },
  });
}

/** One call of the gather kernel: see `inputGradient` in assembly/conv-gradients.ts. */
interface GatherCall {
  /** The tensor gathered from, NHWC [N, Hs, Ws, K]. */
  src: TensorInfo;
  srcDims: [number, number, number, number];
  /** Output [H, W, C] per image. */
  outDims: [number, number, number];
  KH: number;
  KW: number;
  sH: number;
  sW: number;
  dH: number;
  dW: number;
  /** Output row ih reads source row (ih + padT − kh·dH) / sH. */
  padT: number;
  padL: number;
  /** Fills `wt` [C8/8, KH·KW, K, 8] (zeroed beforehand; channels ≥ C stay zero). */
  pack: (wt: Float32Array, taps: number, C: number, K: number) => void;
}

function runGather(k: SimdKernelExports, backend: WasmBackendLike, c: GatherCall): TensorInfo {
  const [N, Hs, Ws, K] = c.srcDims;
  const [H, W, C] = c.outDims;
  const { KH, KW, sH, sW, dH, dW, padT, padL } = c;
  const C8 = roundUp(C, 8);
  const Wx = roundUp(W, 4 * sW);
  // Range of source rows/columns the gather reads; the zero padding around the source covers
  // what lies outside it.
  const ohMin = floorDiv(padT - (KH - 1) * dH, sH);
  const ohMax = floorDiv(H - 1 + padT, sH);
  const owMin = floorDiv(padL - (KW - 1) * dW, sW);
  const owMax = floorDiv(Wx - 1 + padL, sW);
  const offH = Math.max(0, -ohMin);
  const offW = Math.max(0, -owMin);
  const Hq = offH + Math.max(Hs, ohMax + 1);
  const Wq = offW + Math.max(Ws, owMax + 1);

  const arena = new SimdArena(k);
  const srcAt = stagePadded(arena, backend, c.src, [N, Hs, Ws, K], [Hq, Wq, K], offH, offW);
  const wtAt = arena.zeros(KH * KW * K * C8);
  const outAt = arena.alloc(N * H * Wx * C8);
  c.pack(arena.view(wtAt, KH * KW * K * C8), KH * KW, C, K);

  k.inputGradient(srcAt, wtAt, outAt, N, H, Wx, C8, Hq, Wq, K, KH, KW, sH, sW, dH, dW, padT, padL, offH, offW);

  const out = backend.makeOutput([N, H, W, C], 'float32');
  const dst = heapView(backend, out);
  const res = arena.view(outAt, N * H * Wx * C8);
  if (Wx === W && C8 === C) {
    dst.set(res);
  } else {
    // Each output row: its first W pixels, each pixel's first C channels.
    for (let r = 0; r < N * H; r++) {
      for (let j = 0; j < W; j++) {
        const s = (r * Wx + j) * C8;
        dst.set(res.subarray(s, s + C), (r * W + j) * C);
      }
    }
  }
  return out;
}
