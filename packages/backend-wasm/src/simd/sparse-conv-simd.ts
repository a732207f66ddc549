import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { ConvGeometry } from '../kernels/conv-gradients.js';
import type { WasmBackendLike } from '../kernels/kernel-scope.js';
import { heapView } from './conv-gradients-simd.js';
import { SimdArena, type SimdKernelExports, simdConvGradientsWanted, simdKernels } from './simd-module.js';
import { MIN_SPLIT_MACS } from './workers.js';

/**
 * Largest share of nonzero filter weights (forward and input gradient) or of mask ones (filter
 * gradient) for which a stride-1 convolution runs on the sparse plane kernels instead of the
 * dense ones, unless {@link setSparseConvMaxDensity} moved it. Measured with
 * `packages/backend-wasm/bench/sparse-conv.ts` (ResNet-18's 3×3 layers at batch 64): the sparse
 * kernels do one multiply-add per nonzero and output pixel at a fraction of the dense kernels'
 * rate, plus the copies into and out of planes: 2–5× faster at 1–6% density, even at ~20%
 * (docs/decisions/0011-sparse-convolutions.md).
 */
export const SPARSE_CONV_MAX_DENSITY = 0.15;

let maxDensity = SPARSE_CONV_MAX_DENSITY;

/**
 * Moves the density threshold of the sparse convolutions, for A/B measurements: 0 turns them
 * off, 1 sends every stride-1 conv of at least 4,096 weights to them. Takes effect at the next
 * kernel call.
 * @param density - in [0, 1]; the default is {@link SPARSE_CONV_MAX_DENSITY}
 */
export function setSparseConvMaxDensity(density: number = SPARSE_CONV_MAX_DENSITY): void {
  if (!(density >= 0 && density <= 1)) throw new RangeError(`setSparseConvMaxDensity: density must be in [0, 1], got ${density}`);
  maxDensity = density;
}

/** Fewest filter weights for which the sparse path is considered (smaller filters: not worth a scan). */
const SPARSE_CONV_MIN_WEIGHTS = 4096;

const roundUp = (v: number, m: number): number => Math.ceil(v / m) * m;

/**
 * Whether a conv of this geometry can run on the plane kernels: stride 1, no dilation, and no
 * side padded by more than the filter size less one (as 'same' and 'valid' never are; the input
 * gradient's planes assume it).
 */
function planeKernelGeometry(g: ConvGeometry): boolean {
  const { filterHeight: KH, filterWidth: KW, padTop, padLeft } = g;
  const padBottom = g.outHeight - g.inHeight + KH - 1 - padTop;
  const padRight = g.outWidth - g.inWidth + KW - 1 - padLeft;
  return (
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.dilationHeight === 1 &&
    g.dilationWidth === 1 &&
    Math.max(padTop, padBottom) < KH &&
    Math.max(padLeft, padRight) < KW
  );
}

/** Nonzeros of a float array, stopping once more than `limit` are found. */
function countNonzeros(a: Float32Array, limit: number): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0 && ++n > limit) return n;
  }
  return n;
}

/** Whether `weights` (a filter or a 0/1 mask) is sparse enough for the plane kernels. */
export function sparseEnough(weights: Float32Array): boolean {
  if (weights.length < SPARSE_CONV_MIN_WEIGHTS || maxDensity === 0) return false;
  const limit = Math.floor(weights.length * maxDensity);
  return countNonzeros(weights, limit) <= limit;
}

/**
 * The kernels when this conv should run on them, else null: the SIMD kernels are loaded and
 * wanted, the geometry suits the planes, and `weights` (the filter, or the mask) is sparse enough.
 */
function planeKernelsFor(backend: WasmBackendLike, g: ConvGeometry, weights: TensorInfo): SimdKernelExports | null {
  if (!planeKernelGeometry(g) || !simdConvGradientsWanted() || !sparseEnough(heapView(backend, weights))) return null;
  return simdKernels();
}

/**
 * Copies NHWC `src` [N, H, W, C] into planes: channel c of image n at `(c·N + n)·img`, pixel
 * (h, w) at `(h + top)·Wq + w + left` of it. `dst` must be zero where nothing is copied.
 */
function toPlanes(
  src: Float32Array,
  N: number,
  H: number,
  W: number,
  C: number,
  dst: Float32Array,
  img: number,
  Wq: number,
  top: number,
  left: number,
): void {
  const plane = N * img;
  let s = 0;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      let d = n * img + (h + top) * Wq + left;
      for (let w = 0; w < W; w++, d++) {
        let o = d;
        for (let c = 0; c < C; c++, o += plane) dst[o] = src[s++];
      }
    }
  }
}

/** The inverse of {@link toPlanes} for the first W columns of H rows of `Wq` floats (top = left = 0). */
function fromPlanes(src: Float32Array, N: number, H: number, W: number, C: number, img: number, Wq: number, dst: Float32Array): void {
  const plane = N * img;
  let d = 0;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      let s = n * img + h * Wq;
      for (let w = 0; w < W; w++, s++) {
        let o = s;
        for (let c = 0; c < C; c++, o += plane) dst[d++] = src[o];
      }
    }
  }
}

/**
 * The entries of the plane kernels for the nonzeros of a [KH, KW, Cin, Cout] array, sorted by
 * plane a (a counting sort): `byOut` true gives a = co, b = ci (forward, filter gradient), false
 * a = ci, b = co (input gradient). `offset(kh, kw)` is the shift into plane b.
 */
interface Entries {
  /** Count. */
  E: number;
  /** Where each run of plane a starts, and E at the end: `starts[a]`. */
  starts: Int32Array;
  /** Flat index in the [KH, KW, Cin, Cout] array of each entry. */
  flat: Int32Array;
}

function collectEntries(values: Float32Array, Cin: number, Cout: number, byOut: boolean): Entries {
  const A = byOut ? Cout : Cin;
  const taps = values.length / (Cin * Cout);
  // One pass over the array: the nonzeros' flat indices and their plane-a counts.
  let nz = new Int32Array(Math.max(16, values.length >> 4));
  let E = 0;
  const counts = new Int32Array(A + 1);
  for (let t = 0, i = 0; t < taps; t++) {
    for (let ci = 0; ci < Cin; ci++) {
      for (let co = 0; co < Cout; co++, i++) {
        if (values[i] === 0) continue;
        if (E === nz.length) {
          const grown = new Int32Array(2 * nz.length);
          grown.set(nz);
          nz = grown;
        }
        nz[E++] = i;
        counts[(byOut ? co : ci) + 1]++;
      }
    }
  }
  for (let a = 0; a < A; a++) counts[a + 1] += counts[a];
  const starts = counts.slice();
  const next = counts.slice(0, A);
  const flat = new Int32Array(E);
  for (let e = 0; e < E; e++) {
    const i = nz[e];
    flat[next[byOut ? i % Cout : Math.floor(i / Cout) % Cin]++] = i;
  }
  return { E, starts, flat };
}

/** Splits the entries into up to `threads` ranges of about equal size, at plane-a boundaries. */
function splitAtPlanes(starts: Int32Array, E: number, threads: number, macsPerEntry: number): Array<[number, number]> {
  if (threads <= 1 || E * macsPerEntry < MIN_SPLIT_MACS) return [[0, E]];
  const parts: Array<[number, number]> = [];
  let from = 0;
  let a = 0;
  for (let t = 1; t < threads; t++) {
    const target = Math.round((E * t) / threads);
    while (a < starts.length - 1 && starts[a] < target) a++;
    const cut = starts[a];
    if (cut > from && cut < E) {
      parts.push([from, cut]);
      from = cut;
    }
  }
  parts.push([from, E]);
  return parts;
}

/** Writes the entries' (a, b, offset) triples and values into the arena; returns their offsets. */
function stageEntries(
  arena: SimdArena,
  k: SimdKernelExports,
  en: Entries,
  KW: number,
  Cin: number,
  Cout: number,
  byOut: boolean,
  offset: (kh: number, kw: number) => number,
  values: Float32Array | null,
): { idxAt: number; valAt: number } {
  const idxAt = arena.alloc(3 * en.E);
  const valAt = arena.alloc(en.E);
  const idx = new Int32Array(k.memory.buffer, idxAt, 3 * en.E);
  const val = arena.view(valAt, en.E);
  for (let e = 0; e < en.E; e++) {
    const i = en.flat[e];
    const co = i % Cout;
    const ci = Math.floor(i / Cout) % Cin;
    const tap = Math.floor(i / (Cout * Cin));
    idx[3 * e] = byOut ? co : ci;
    idx[3 * e + 1] = byOut ? ci : co;
    idx[3 * e + 2] = offset(Math.floor(tap / KW), tap % KW);
    if (values !== null) val[e] = values[i];
  }
  return { idxAt, valAt };
}

/**
 * A stride-1 NHWC conv as a sum of shifted planes, one multiply-add sweep per nonzero weight
 * (assembly/sparse-conv.ts), or null when the conv should not run on the plane kernels
 * (`planeKernelsFor`: not loaded or turned off, not stride 1, or the filter not sparse enough).
 *
 * @remarks Equal to the dense conv up to the order of the float additions: zero weights add
 * nothing, so skipping them changes nothing else.
 */
export function sparseConv2D(backend: WasmBackendLike, x: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const k = planeKernelsFor(backend, g, filter);
  if (k === null) return null;
  const { batchSize: N, inHeight: H, inWidth: W, outHeight: Ho, outWidth: Wo } = g;
  const [KH, KW, Cin, Cout] = filter.shape;
  const Hp = Ho + KH - 1;
  const Wp = Wo + KW - 1;
  const inImg = Hp * Wp;
  const L = roundUp(Ho * Wp, 4);
  const f = heapView(backend, filter);
  const en = collectEntries(f, Cin, Cout, true);

  const arena = new SimdArena(k);
  // Slack after the last plane: the last sweep reads up to (KH−1)·Wp + KW + 3 floats past Ho·Wp.
  const inFloats = Cin * N * inImg + Wp + KW + 8;
  const inAt = arena.zeros(inFloats);
  toPlanes(heapView(backend, x), N, H, W, Cin, arena.view(inAt, inFloats), inImg, Wp, g.padTop, g.padLeft);
  const outAt = arena.zeros(Cout * N * L);
  const { idxAt, valAt } = stageEntries(arena, k, en, KW, Cin, Cout, true, (kh, kw) => kh * Wp + kw, f);
  k.planeAxpy([inAt, outAt, idxAt, valAt, N, inImg, L, L], splitAtPlanes(en.starts, en.E, k.threads, N * L));

  const out = backend.makeOutput([N, Ho, Wo, Cout], 'float32');
  fromPlanes(arena.view(outAt, Cout * N * L), N, Ho, Wo, Cout, L, Wp, heapView(backend, out));
  return out;
}

/**
 * dx of a stride-1 NHWC conv on the plane kernels (the forward sweep with the filter rotated by
 * 180°: dx[ih, iw] = Σ w[kh, kw]·dy[ih + padTop − kh, iw + padLeft − kw]), or null as
 * {@link sparseConv2D}.
 */
export function sparseInputGradient(backend: WasmBackendLike, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const k = planeKernelsFor(backend, g, filter);
  if (k === null) return null;
  const { batchSize: N, inHeight: H, inWidth: W, outHeight: Ho, outWidth: Wo } = g;
  const [KH, KW, Cin, Cout] = filter.shape;
  const Hq = H + KH - 1;
  const Wq = W + KW - 1;
  const inImg = Hq * Wq;
  const L = roundUp(H * Wq, 4);
  const f = heapView(backend, filter);
  const en = collectEntries(f, Cin, Cout, false);

  const arena = new SimdArena(k);
  const inFloats = Cout * N * inImg + Wq + KW + 8;
  const inAt = arena.zeros(inFloats);
  toPlanes(heapView(backend, dy), N, Ho, Wo, Cout, arena.view(inAt, inFloats), inImg, Wq, KH - 1 - g.padTop, KW - 1 - g.padLeft);
  const outAt = arena.zeros(Cin * N * L);
  const { idxAt, valAt } = stageEntries(arena, k, en, KW, Cin, Cout, false, (kh, kw) => (KH - 1 - kh) * Wq + (KW - 1 - kw), f);
  k.planeAxpy([inAt, outAt, idxAt, valAt, N, inImg, L, L], splitAtPlanes(en.starts, en.E, k.threads, N * L));

  const out = backend.makeOutput([N, H, W, Cin], 'float32');
  fromPlanes(arena.view(outAt, Cin * N * L), N, H, W, Cin, L, Wq, heapView(backend, out));
  return out;
}

/**
 * The filter gradient of a stride-1 NHWC conv at the mask's ones only (zero elsewhere): one dot
 * product of a dy plane with a shifted x plane per one, or null as {@link sparseConv2D} (the mask
 * deciding instead of the filter).
 *
 * @param mask - 0/1, the filter's shape [KH, KW, Cin, Cout]
 */
export function sparseFilterGradient(
  backend: WasmBackendLike,
  x: TensorInfo,
  dy: TensorInfo,
  mask: TensorInfo,
  g: ConvGeometry,
): TensorInfo | null {
  const k = planeKernelsFor(backend, g, mask);
  if (k === null) return null;
  const { batchSize: N, inHeight: H, inWidth: W, outHeight: Ho, outWidth: Wo } = g;
  const [KH, KW, Cin, Cout] = mask.shape;
  const Hp = Ho + KH - 1;
  const Wp = Wo + KW - 1;
  const bImg = Hp * Wp;
  const L = roundUp(Ho * Wp, 4);
  const en = collectEntries(heapView(backend, mask), Cin, Cout, true);

  const arena = new SimdArena(k);
  const bFloats = Cin * N * bImg + Wp + KW + 8;
  const bAt = arena.zeros(bFloats);
  toPlanes(heapView(backend, x), N, H, W, Cin, arena.view(bAt, bFloats), bImg, Wp, g.padTop, g.padLeft);
  // dy's planes have the same Wp-float rows, zero past its Wo columns: the extra columns the
  // sweep reads from x are multiplied by zero.
  const aAt = arena.zeros(Cout * N * L);
  toPlanes(heapView(backend, dy), N, Ho, Wo, Cout, arena.view(aAt, Cout * N * L), L, Wp, 0, 0);
  const { idxAt, valAt } = stageEntries(arena, k, en, KW, Cin, Cout, true, (kh, kw) => kh * Wp + kw, null);
  k.planeDots([aAt, bAt, idxAt, valAt, N, L, bImg, L], splitAtPlanes(en.starts, en.E, k.threads, N * L));

  const out = backend.makeOutput([KH, KW, Cin, Cout], 'float32');
  const dst = heapView(backend, out);
  dst.fill(0);
  const val = arena.view(valAt, en.E);
  for (let e = 0; e < en.E; e++) dst[en.flat[e]] = val[e];
  return out;
}
