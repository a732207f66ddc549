// Batched matrix products C[t] = op(A[t])·op(B[t]) for many small matrices (a ViT's attention:
// 192 products of 65×64×65 per call), op = identity or transpose, in one call (compiled into the
// same module as conv-gradients.ts; run on the tfjs heap like batch-norm.ts, so operands and the
// result are read and written where they lie, transposed or not).
//
// Per product, B is packed into `scratch` as ⌈N/8⌉ column tiles of [K][8] (zero-padded), then
// each group of four rows of A sweeps each tile with a 4 × 8 register tile (one row at a time
// for the last M mod 4 rows). Columns past N are computed on the padding and not stored.

/** a·b + c per lane: one fused multiply-add in the relaxed-SIMD build (see conv-gradients.ts). */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Stores the 8 columns [j, j + 8) of a row, only those below N. */
function storeRow(at: usize, j: i32, N: i32, lo: v128, hi: v128): void {
  const p = at + ((<usize>j) << 2);
  if (j + 8 <= N) {
    v128.store(p, lo);
    v128.store(p, hi, 16);
    return;
  }
  const n = N - j;
  if (n > 0) store<f32>(p, f32x4.extract_lane(lo, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(lo, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(lo, 2), 8);
  if (n > 3) store<f32>(p, f32x4.extract_lane(lo, 3), 12);
  if (n > 4) store<f32>(p, f32x4.extract_lane(hi, 0), 16);
  if (n > 5) store<f32>(p, f32x4.extract_lane(hi, 1), 20);
  if (n > 6) store<f32>(p, f32x4.extract_lane(hi, 2), 24);
}

/**
 * C[t] = op(A[t])·op(B[t]) for t in [tBegin, tEnd): op(A) is M×K (A stored [M, K], or [K, M]
 * when `transA`), op(B) is K×N (B stored [K, N], or [N, K] when `transB`), C [M, N]. Part `part`
 * of a split packs B at `scratch0 + part·⌈N/8⌉·8·K` floats (that much scratch per part).
 */
export function batchedMatMul(
  a: usize,
  b: usize,
  c: usize,
  M: i32,
  K: i32,
  N: i32,
  transA: i32,
  transB: i32,
  scratch0: usize,
  tBegin: i32,
  tEnd: i32,
  part: i32,
): void {
  const tiles = (N + 7) >> 3;
  const tileBytes = (<usize>(K * 8)) << 2;
  const scratch = scratch0 + <usize>part * <usize>tiles * tileBytes;
  for (let t = tBegin; t < tEnd; t++) {
    const A = a + ((<usize>(t * M * K)) << 2);
    const B = b + ((<usize>(t * K * N)) << 2);
    const C = c + ((<usize>(t * M * N)) << 2);
    // Pack B: tile jt, row k holds B(k, 8·jt .. 8·jt + 7).
    for (let jt = 0; jt < tiles; jt++) {
      const tile = scratch + <usize>jt * tileBytes;
      for (let k = 0; k < K; k++) {
        const dst = tile + ((<usize>(k * 8)) << 2);
        for (let q = 0; q < 8; q++) {
          const j = jt * 8 + q;
          let v: f32 = 0;
          if (j < N) v = transB ? load<f32>(B + ((<usize>(j * K + k)) << 2)) : load<f32>(B + ((<usize>(k * N + j)) << 2));
          store<f32>(dst + ((<usize>q) << 2), v);
        }
      }
    }
    // A(i, k) is at A + 4·(i·K + k), or A + 4·(k·M + i) when transposed.
    const si: usize = transA ? 4 : (<usize>K) << 2; // bytes between A(i, k) and A(i + 1, k)
    const sk: usize = transA ? (<usize>M) << 2 : 4; // bytes between A(i, k) and A(i, k + 1)
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      const a0 = A + <usize>i * si;
      for (let jt = 0; jt < tiles; jt++) {
        const tile = scratch + <usize>jt * tileBytes;
        let c00 = f32x4.splat(0);
        let c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0);
        let c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0);
        let c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0);
        let c31 = f32x4.splat(0);
        let pa = a0;
        let pb = tile;
        for (let k = 0; k < K; k++) {
          const b0 = v128.load(pb);
          const b1 = v128.load(pb, 16);
          const x0 = f32x4.splat(load<f32>(pa));
          const x1 = f32x4.splat(load<f32>(pa + si));
          const x2 = f32x4.splat(load<f32>(pa + 2 * si));
          const x3 = f32x4.splat(load<f32>(pa + 3 * si));
          c00 = madd(x0, b0, c00);
          c01 = madd(x0, b1, c01);
          c10 = madd(x1, b0, c10);
          c11 = madd(x1, b1, c11);
          c20 = madd(x2, b0, c20);
          c21 = madd(x2, b1, c21);
          c30 = madd(x3, b0, c30);
          c31 = madd(x3, b1, c31);
          pa += sk;
          pb += 32;
        }
        const row = C + ((<usize>(i * N)) << 2);
        const rowBytes = (<usize>N) << 2;
        storeRow(row, jt * 8, N, c00, c01);
        storeRow(row + rowBytes, jt * 8, N, c10, c11);
        storeRow(row + 2 * rowBytes, jt * 8, N, c20, c21);
        storeRow(row + 3 * rowBytes, jt * 8, N, c30, c31);
      }
    }
    for (; i < M; i++) {
      const a0 = A + <usize>i * si;
      for (let jt = 0; jt < tiles; jt++) {
        const tile = scratch + <usize>jt * tileBytes;
        let c0 = f32x4.splat(0);
        let c1 = f32x4.splat(0);
        let pa = a0;
        let pb = tile;
        for (let k = 0; k < K; k++) {
          const x = f32x4.splat(load<f32>(pa));
          c0 = madd(x, v128.load(pb), c0);
          c1 = madd(x, v128.load(pb, 16), c1);
          pa += sk;
          pb += 32;
        }
        storeRow(C + ((<usize>(i * N)) << 2), jt * 8, N, c0, c1);
      }
    }
  }
}
