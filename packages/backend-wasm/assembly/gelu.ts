// GELU with the exact error function, forward and backward, in one SIMD pass each (compiled into
// the same module as conv-gradients.ts; run on the tfjs heap like batch-norm.ts):
//   y  = 0.5·x·(1 + erf(x/√2))
//   dx = dy·(0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π))
// erf is Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), the formula of tfjs's own Erf kernels;
// exp is Cephes' expf (range reduction by ln 2, degree-5 polynomial; relative error ~1e-7). One
// exp(−x²/2) serves both erf(x/√2) and the Gaussian density.

const ERF_P: f32 = 0.3275911;
const ERF_A1: f32 = 0.254829592;
const ERF_A2: f32 = -0.284496736;
const ERF_A3: f32 = 1.421413741;
const ERF_A4: f32 = -1.453152027;
const ERF_A5: f32 = 1.061405429;
const INV_SQRT2: f32 = <f32>Math.SQRT1_2;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

/** e^x per lane (x clamped to [−87.3, 88.3], where float32 e^x is normal). */
function expV(x0: v128): v128 {
  const x = f32x4.min(f32x4.max(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(<f32>Math.LOG2E)));
  // r = x − n·ln2, with ln2 split in two so that n·ln2_hi is exact.
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(-2.1219444e-4)));
  let p = f32x4.splat(1.98756915e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, pow2n);
}

/** 1 + erf(z) per lane, given e = exp(−z²). */
function onePlusErfV(z: v128, e: v128): v128 {
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(ERF_P), f32x4.abs(z))));
  let q = f32x4.splat(ERF_A5);
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(ERF_A4));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(ERF_A3));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(ERF_A2));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(ERF_A1));
  const tail = f32x4.mul(f32x4.mul(q, t), e); // 1 − erf(|z|)
  // z ≥ 0: 1 + erf = 2 − tail; z < 0: 1 + erf = tail.
  return v128.bitselect(tail, f32x4.sub(f32x4.splat(2), tail), f32x4.lt(z, f32x4.splat(0)));
}

/** The last `n − i` (< 4) floats at `p` as a vector, zeros after. */
function loadTail(p: usize, i: i32, n: i32): v128 {
  let v = f32x4.splat(0);
  const at = p + ((<usize>i) << 2);
  v = f32x4.replace_lane(v, 0, load<f32>(at));
  if (i + 1 < n) v = f32x4.replace_lane(v, 1, load<f32>(at, 4));
  if (i + 2 < n) v = f32x4.replace_lane(v, 2, load<f32>(at, 8));
  return v;
}

/** Stores the first `n − i` (< 4) lanes of `v` at `p`. */
function storeTail(p: usize, i: i32, n: i32, v: v128): void {
  const at = p + ((<usize>i) << 2);
  store<f32>(at, f32x4.extract_lane(v, 0));
  if (i + 1 < n) store<f32>(at, f32x4.extract_lane(v, 1), 4);
  if (i + 2 < n) store<f32>(at, f32x4.extract_lane(v, 2), 8);
}

/** GELU of one vector. */
function geluV(v: v128): v128 {
  const z = f32x4.mul(v, f32x4.splat(INV_SQRT2));
  const e = expV(f32x4.neg(f32x4.mul(z, z)));
  return f32x4.mul(f32x4.mul(v, f32x4.splat(0.5)), onePlusErfV(z, e));
}

/** dy · GELU′(x) of one vector. */
function geluGradV(g: v128, v: v128): v128 {
  const z = f32x4.mul(v, f32x4.splat(INV_SQRT2));
  const e = expV(f32x4.neg(f32x4.mul(z, z)));
  const d = f32x4.add(f32x4.mul(f32x4.splat(0.5), onePlusErfV(z, e)), f32x4.mul(f32x4.mul(v, e), f32x4.splat(INV_SQRT_2PI)));
  return f32x4.mul(g, d);
}

// No Mathf here: its tables would add a data segment, which instantiating the module on the tfjs
// heap would write over tfjs's memory (scripts/build-simd.mjs refuses a build with one).

/** y = GELU(x) for elements [begin, end) (begin a multiple of 4; y may alias x). */
export function geluForward(x: usize, y: usize, begin: i32, end: i32): void {
  const n = end;
  let i = begin;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    v128.store(y + off, geluV(v128.load(x + off)));
  }
  if (i < n) storeTail(y, i, n, geluV(loadTail(x, i, n)));
}

/** dx = dy · GELU′(x) for elements [begin, end) (begin a multiple of 4; dx may alias dy or x). */
export function geluBackward(dy: usize, x: usize, dx: usize, begin: i32, end: i32): void {
  const n = end;
  let i = begin;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    v128.store(dx + off, geluGradV(v128.load(dy + off), v128.load(x + off)));
  }
  if (i < n) storeTail(dx, i, n, geluGradV(loadTail(dy, i, n), loadTail(x, i, n)));
}
