// Sparse stride-1 convolutions on planar operands (compiled into the same module as
// conv-gradients.ts, run on the module's own memory like it).
//
// The JS side (src/simd/sparse-conv-simd.ts) copies each operand into planes: channel c of image n
// is a zero-padded Hq × Wq map at `base + (c·N + n)·img` floats. A stride-1 convolution is then a
// sum of shifted planes: output plane o, image n, position j (row-major over the output rows, Wq
// floats per row) gets Σ w · input plane i at j + off, with off = kh·Wq + kw for each nonzero
// tap. Every nonzero weight is one long multiply-add over N·(rows·Wq) floats, so the work is
// proportional to the nonzeros: what a 95%-sparse layer needs. The last Wq − W columns of each
// output row are computed too (they read across the row's end) and dropped by the JS side.
//
// Entries are (plane a, plane b, offset) i32 triples at `idx + 12·e` with a float at `val + 4·e`,
// sorted by plane a; runs of 4 entries that share plane a are done in one sweep (plane a read and
// written once per 4 weights). All sizes are in elements, all pointers in bytes; L is a multiple
// of 4.

/** a·b + c per lane: one fused multiply-add in the relaxed-SIMD build (see conv-gradients.ts). */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Whether entries e..e+3 all exist before `end` and share plane a. */
function runOfFour(idx: usize, e: i32, end: i32): bool {
  if (e + 4 > end) return false;
  const p = idx + <usize>e * 12;
  const a = load<i32>(p);
  return load<i32>(p, 12) === a && load<i32>(p, 24) === a && load<i32>(p, 36) === a;
}

/**
 * out[a_e][n][j] += val_e · inp[b_e][n][off_e + j] for entries e in [begin, end), images n < N,
 * j < L. Output planes are `outImg` floats per image, input planes `inImg`. Threads take disjoint
 * entry ranges that never split one output plane (they need no scratch: the part index the
 * workers append is ignored).
 */
export function planeAxpy(
  inp: usize,
  out: usize,
  idx: usize,
  val: usize,
  N: i32,
  inImg: i32,
  outImg: i32,
  L: i32,
  begin: i32,
  end: i32,
): void {
  const inPlane = <usize>N * <usize>inImg;
  const outPlane = <usize>N * <usize>outImg;
  const inStep = (<usize>inImg) << 2;
  const outStep = (<usize>outImg) << 2;
  const bytes = (<usize>L) << 2;
  let e = begin;
  while (e < end) {
    const p = idx + <usize>e * 12;
    let dst = out + ((outPlane * <usize>load<i32>(p)) << 2);
    if (runOfFour(idx, e, end)) {
      let s0 = inp + ((inPlane * <usize>load<i32>(p, 4) + <usize>load<i32>(p, 8)) << 2);
      let s1 = inp + ((inPlane * <usize>load<i32>(p, 16) + <usize>load<i32>(p, 20)) << 2);
      let s2 = inp + ((inPlane * <usize>load<i32>(p, 28) + <usize>load<i32>(p, 32)) << 2);
      let s3 = inp + ((inPlane * <usize>load<i32>(p, 40) + <usize>load<i32>(p, 44)) << 2);
      const v = val + ((<usize>e) << 2);
      const w0 = f32x4.splat(load<f32>(v));
      const w1 = f32x4.splat(load<f32>(v, 4));
      const w2 = f32x4.splat(load<f32>(v, 8));
      const w3 = f32x4.splat(load<f32>(v, 12));
      for (let n = 0; n < N; n++) {
        for (let j: usize = 0; j < bytes; j += 16) {
          let acc = v128.load(dst + j);
          acc = madd(w0, v128.load(s0 + j), acc);
          acc = madd(w1, v128.load(s1 + j), acc);
          acc = madd(w2, v128.load(s2 + j), acc);
          acc = madd(w3, v128.load(s3 + j), acc);
          v128.store(dst + j, acc);
        }
        dst += outStep;
        s0 += inStep;
        s1 += inStep;
        s2 += inStep;
        s3 += inStep;
      }
      e += 4;
    } else {
      let s0 = inp + ((inPlane * <usize>load<i32>(p, 4) + <usize>load<i32>(p, 8)) << 2);
      const w0 = f32x4.splat(load<f32>(val + ((<usize>e) << 2)));
      for (let n = 0; n < N; n++) {
        for (let j: usize = 0; j < bytes; j += 16) v128.store(dst + j, madd(w0, v128.load(s0 + j), v128.load(dst + j)));
        dst += outStep;
        s0 += inStep;
      }
      e += 1;
    }
  }
}

/**
 * val_e = Σ_{n < N, j < L} a[a_e][n][j] · b[b_e][n][off_e + j] for entries e in [begin, end):
 * the sampled filter gradient, with a = dy's planes (`aImg` floats per image, zero beyond the
 * output columns) and b = the padded input's planes (`bImg`). Threads take disjoint entry ranges.
 */
export function planeDots(a: usize, b: usize, idx: usize, val: usize, N: i32, aImg: i32, bImg: i32, L: i32, begin: i32, end: i32): void {
  const aPlane = <usize>N * <usize>aImg;
  const bPlane = <usize>N * <usize>bImg;
  const aStep = (<usize>aImg) << 2;
  const bStep = (<usize>bImg) << 2;
  const bytes = (<usize>L) << 2;
  let e = begin;
  while (e < end) {
    const p = idx + <usize>e * 12;
    let src = a + ((aPlane * <usize>load<i32>(p)) << 2);
    if (runOfFour(idx, e, end)) {
      let s0 = b + ((bPlane * <usize>load<i32>(p, 4) + <usize>load<i32>(p, 8)) << 2);
      let s1 = b + ((bPlane * <usize>load<i32>(p, 16) + <usize>load<i32>(p, 20)) << 2);
      let s2 = b + ((bPlane * <usize>load<i32>(p, 28) + <usize>load<i32>(p, 32)) << 2);
      let s3 = b + ((bPlane * <usize>load<i32>(p, 40) + <usize>load<i32>(p, 44)) << 2);
      let c0 = f32x4.splat(0);
      let c1 = f32x4.splat(0);
      let c2 = f32x4.splat(0);
      let c3 = f32x4.splat(0);
      for (let n = 0; n < N; n++) {
        for (let j: usize = 0; j < bytes; j += 16) {
          const x = v128.load(src + j);
          c0 = madd(x, v128.load(s0 + j), c0);
          c1 = madd(x, v128.load(s1 + j), c1);
          c2 = madd(x, v128.load(s2 + j), c2);
          c3 = madd(x, v128.load(s3 + j), c3);
        }
        src += aStep;
        s0 += bStep;
        s1 += bStep;
        s2 += bStep;
        s3 += bStep;
      }
      const v = val + ((<usize>e) << 2);
      store<f32>(v, sum4(c0));
      store<f32>(v, sum4(c1), 4);
      store<f32>(v, sum4(c2), 8);
      store<f32>(v, sum4(c3), 12);
      e += 4;
    } else {
      let s0 = b + ((bPlane * <usize>load<i32>(p, 4) + <usize>load<i32>(p, 8)) << 2);
      let c0 = f32x4.splat(0);
      for (let n = 0; n < N; n++) {
        for (let j: usize = 0; j < bytes; j += 16) c0 = madd(v128.load(src + j), v128.load(s0 + j), c0);
        src += aStep;
        s0 += bStep;
      }
      store<f32>(val + ((<usize>e) << 2), sum4(c0));
      e += 1;
    }
  }
}

/** The sum of a vector's four lanes. */
function sum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
