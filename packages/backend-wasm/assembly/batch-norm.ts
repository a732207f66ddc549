// SIMD passes of a fused training-mode batch normalisation over the last axis of a row-major
// [rows, C] matrix (NHWC activations: rows = N·H·W), with an optional residual input and ReLU:
//   y = act((x − mean)·scale + beta + residual),  scale = gamma / sqrt(var + eps).
// Compiled into the same module as conv-gradients.ts (scripts/build-simd.mjs); the kernels
// instantiate these on the tfjs heap's own memory and pass tensors' offsets (no copies).
//
// Every pass reads or writes a row range [rowBegin, rowEnd) so that threads can share a call on
// disjoint rows. Per-channel sums are written per block of BLOCK_ROWS rows (float32 sums within a
// block, added up in float64 by the caller in block order): the result does not depend on how the
// rows were split between threads. Any C works (a scalar tail handles C mod 4); rowBegin must be a
// multiple of BLOCK_ROWS. All sizes are in elements, all pointers in bytes.

/** Rows summed in float32 before the caller's float64 totals. */
const BLOCK_ROWS: i32 = 64;

/** Sets `C` floats at `at` to zero. */
function zeroRow(at: usize, C: i32): void {
  let c = 0;
  for (; c + 4 <= C; c += 4) v128.store(at + ((<usize>c) << 2), f32x4.splat(0));
  for (; c < C; c++) store<f32>(at + ((<usize>c) << 2), 0);
}

/**
 * Per-block column sums of x (`centred` = 0) or of (x − mean)² (`centred` = 1):
 * sums[b·C + c] for every block b of BLOCK_ROWS rows that starts in [rowBegin, rowEnd).
 */
export function bnBlockSums(x: usize, mean: usize, C: i32, sums: usize, centred: i32, rowBegin: i32, rowEnd: i32): void {
  const rowBytes = (<usize>C) << 2;
  for (let r0 = rowBegin; r0 < rowEnd; r0 += BLOCK_ROWS) {
    const r1 = min(rowEnd, r0 + BLOCK_ROWS);
    const out = sums + <usize>(r0 / BLOCK_ROWS) * rowBytes;
    zeroRow(out, C);
    for (let r = r0; r < r1; r++) {
      const row = x + <usize>r * rowBytes;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const off = (<usize>c) << 2;
        let v = v128.load(row + off);
        if (centred) {
          v = f32x4.sub(v, v128.load(mean + off));
          v = f32x4.mul(v, v);
        }
        v128.store(out + off, f32x4.add(v128.load(out + off), v));
      }
      for (; c < C; c++) {
        const off = (<usize>c) << 2;
        let v = load<f32>(row + off);
        if (centred) {
          v -= load<f32>(mean + off);
          v *= v;
        }
        store<f32>(out + off, load<f32>(out + off) + v);
      }
    }
  }
}

/**
 * y = (x − mean)·scale + beta (+ residual when `residual` ≠ 0), then max(·, 0) when `relu` ≠ 0,
 * for rows [rowBegin, rowEnd). `mean`, `scale`, `beta` are C floats; `y` may alias `x`.
 */
export function bnForward(
  x: usize,
  residual: usize,
  y: usize,
  mean: usize,
  scale: usize,
  beta: usize,
  C: i32,
  relu: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const rowBytes = (<usize>C) << 2;
  const zero = f32x4.splat(0);
  for (let r = rowBegin; r < rowEnd; r++) {
    const at = <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const off = (<usize>c) << 2;
      let v = f32x4.add(
        f32x4.mul(f32x4.sub(v128.load(x + at + off), v128.load(mean + off)), v128.load(scale + off)),
        v128.load(beta + off),
      );
      if (residual) v = f32x4.add(v, v128.load(residual + at + off));
      if (relu) v = f32x4.max(v, zero);
      v128.store(y + at + off, v);
    }
    for (; c < C; c++) {
      const off = (<usize>c) << 2;
      let v = (load<f32>(x + at + off) - load<f32>(mean + off)) * load<f32>(scale + off) + load<f32>(beta + off);
      if (residual) v += load<f32>(residual + at + off);
      if (relu) v = max(v, 0);
      store<f32>(y + at + off, v);
    }
  }
}

/**
 * First backward pass. g = dy, or dy where y > 0 and 0 elsewhere when `relu` ≠ 0 (ReLU's
 * gradient, from the forward output), written to `g` (which may alias dy); per block of
 * BLOCK_ROWS rows, sums[b·C + c] = Σ g and dots[b·C + c] = Σ g·(x − mean).
 */
export function bnBackwardSums(
  dy: usize,
  y: usize,
  x: usize,
  mean: usize,
  C: i32,
  relu: i32,
  gOut: usize,
  sums: usize,
  dots: usize,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const rowBytes = (<usize>C) << 2;
  const zero = f32x4.splat(0);
  for (let r0 = rowBegin; r0 < rowEnd; r0 += BLOCK_ROWS) {
    const r1 = min(rowEnd, r0 + BLOCK_ROWS);
    const block = <usize>(r0 / BLOCK_ROWS) * rowBytes;
    zeroRow(sums + block, C);
    zeroRow(dots + block, C);
    for (let r = r0; r < r1; r++) {
      const at = <usize>r * rowBytes;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const off = (<usize>c) << 2;
        let g = v128.load(dy + at + off);
        if (relu) g = v128.and(g, f32x4.gt(v128.load(y + at + off), zero));
        v128.store(gOut + at + off, g);
        const d = f32x4.sub(v128.load(x + at + off), v128.load(mean + off));
        v128.store(sums + block + off, f32x4.add(v128.load(sums + block + off), g));
        v128.store(dots + block + off, f32x4.add(v128.load(dots + block + off), f32x4.mul(g, d)));
      }
      for (; c < C; c++) {
        const off = (<usize>c) << 2;
        let g = load<f32>(dy + at + off);
        if (relu) g = load<f32>(y + at + off) > 0 ? g : 0;
        store<f32>(gOut + at + off, g);
        const d = load<f32>(x + at + off) - load<f32>(mean + off);
        store<f32>(sums + block + off, load<f32>(sums + block + off) + g);
        store<f32>(dots + block + off, load<f32>(dots + block + off) + g * d);
      }
    }
  }
}

/**
 * Second backward pass: dx = g·scale − (x − mean)·k − shift for rows [rowBegin, rowEnd), with g
 * the first pass's output and `scale`, `k`, `shift` C floats each. `dx` may alias `x` or `g`.
 */
export function bnBackwardInput(
  g: usize,
  x: usize,
  dx: usize,
  mean: usize,
  scale: usize,
  k: usize,
  shift: usize,
  C: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const rowBytes = (<usize>C) << 2;
  for (let r = rowBegin; r < rowEnd; r++) {
    const at = <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const off = (<usize>c) << 2;
      const d = f32x4.sub(v128.load(x + at + off), v128.load(mean + off));
      const v = f32x4.sub(
        f32x4.sub(f32x4.mul(v128.load(g + at + off), v128.load(scale + off)), f32x4.mul(d, v128.load(k + off))),
        v128.load(shift + off),
      );
      v128.store(dx + at + off, v);
    }
    for (; c < C; c++) {
      const off = (<usize>c) << 2;
      const d = load<f32>(x + at + off) - load<f32>(mean + off);
      store<f32>(dx + at + off, load<f32>(g + at + off) * load<f32>(scale + off) - d * load<f32>(k + off) - load<f32>(shift + off));
    }
  }
}
