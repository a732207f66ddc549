// Layer normalisation over the last axis of a row-major [rows, D] matrix, forward and backward,
// one call per row range (compiled into the same module as conv-gradients.ts; run on the tfjs
// heap like batch-norm.ts):
//   y = (x − μ)·inv·γ + β,  μ and inv = 1/√(var + ε) per row (biased variance, two passes)
//   dx = inv·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·γ,  x̂ = (x − μ)·inv
// The column sums dγ = Σ dy·x̂ and dβ = Σ dy are written per block of BLOCK_ROWS rows (the caller
// adds the blocks in order in float64), so the result does not depend on a split of the rows.
// Any D works (a scalar tail handles D mod 4); rowBegin must be a multiple of BLOCK_ROWS.

const BLOCK_ROWS: i32 = 64;

/** Σ of the 4 lanes. */
function lanes(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Forward pass for rows [rowBegin, rowEnd); writes y and each row's mean and inv. */
export function lnForward(
  x: usize,
  gamma: usize,
  beta: usize,
  y: usize,
  mean: usize,
  inv: usize,
  D: i32,
  eps: f32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const rowBytes = (<usize>D) << 2;
  for (let r = rowBegin; r < rowEnd; r++) {
    const row = x + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    let s: f32 = 0;
    let c = 0;
    for (; c + 4 <= D; c += 4) acc = f32x4.add(acc, v128.load(row + ((<usize>c) << 2)));
    for (; c < D; c++) s += load<f32>(row + ((<usize>c) << 2));
    const mu: f32 = (lanes(acc) + s) / <f32>D;
    const muV = f32x4.splat(mu);
    acc = f32x4.splat(0);
    s = 0;
    c = 0;
    for (; c + 4 <= D; c += 4) {
      const d = f32x4.sub(v128.load(row + ((<usize>c) << 2)), muV);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    for (; c < D; c++) {
      const d = load<f32>(row + ((<usize>c) << 2)) - mu;
      s += d * d;
    }
    const iv: f32 = 1 / Mathf.sqrt((lanes(acc) + s) / <f32>D + eps);
    store<f32>(mean + ((<usize>r) << 2), mu);
    store<f32>(inv + ((<usize>r) << 2), iv);
    const ivV = f32x4.splat(iv);
    const out = y + <usize>r * rowBytes;
    c = 0;
    for (; c + 4 <= D; c += 4) {
      const off = (<usize>c) << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(row + off), muV), ivV);
      v128.store(out + off, f32x4.add(f32x4.mul(xh, v128.load(gamma + off)), v128.load(beta + off)));
    }
    for (; c < D; c++) {
      const off = (<usize>c) << 2;
      store<f32>(out + off, (load<f32>(row + off) - mu) * iv * load<f32>(gamma + off) + load<f32>(beta + off));
    }
  }
}

/**
 * Backward pass for rows [rowBegin, rowEnd): dx, and per block b of BLOCK_ROWS rows
 * dGamma[b·D + c] = Σ dy·x̂ and dBeta[b·D + c] = Σ dy.
 */
export function lnBackward(
  dy: usize,
  x: usize,
  gamma: usize,
  mean: usize,
  inv: usize,
  dx: usize,
  dGamma: usize,
  dBeta: usize,
  D: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const rowBytes = (<usize>D) << 2;
  for (let r0 = rowBegin; r0 < rowEnd; r0 += BLOCK_ROWS) {
    const r1 = min(rowEnd, r0 + BLOCK_ROWS);
    const block = <usize>(r0 / BLOCK_ROWS) * rowBytes;
    for (let c = 0; c < D; c++) {
      store<f32>(dGamma + block + ((<usize>c) << 2), 0);
      store<f32>(dBeta + block + ((<usize>c) << 2), 0);
    }
    for (let r = r0; r < r1; r++) {
      const at = <usize>r * rowBytes;
      const mu = load<f32>(mean + ((<usize>r) << 2));
      const iv = load<f32>(inv + ((<usize>r) << 2));
      const muV = f32x4.splat(mu);
      const ivV = f32x4.splat(iv);
      // a = Σ g, b = Σ g·x̂ over the row; the column sums on the way.
      let aV = f32x4.splat(0);
      let bV = f32x4.splat(0);
      let a: f32 = 0;
      let b: f32 = 0;
      let c = 0;
      for (; c + 4 <= D; c += 4) {
        const off = (<usize>c) << 2;
        const d = v128.load(dy + at + off);
        const xh = f32x4.mul(f32x4.sub(v128.load(x + at + off), muV), ivV);
        const g = f32x4.mul(d, v128.load(gamma + off));
        aV = f32x4.add(aV, g);
        bV = f32x4.add(bV, f32x4.mul(g, xh));
        v128.store(dGamma + block + off, f32x4.add(v128.load(dGamma + block + off), f32x4.mul(d, xh)));
        v128.store(dBeta + block + off, f32x4.add(v128.load(dBeta + block + off), d));
      }
      for (; c < D; c++) {
        const off = (<usize>c) << 2;
        const d = load<f32>(dy + at + off);
        const xh = (load<f32>(x + at + off) - mu) * iv;
        const g = d * load<f32>(gamma + off);
        a += g;
        b += g * xh;
        store<f32>(dGamma + block + off, load<f32>(dGamma + block + off) + d * xh);
        store<f32>(dBeta + block + off, load<f32>(dBeta + block + off) + d);
      }
      const ma: f32 = (lanes(aV) + a) / <f32>D;
      const mb: f32 = (lanes(bV) + b) / <f32>D;
      const maV = f32x4.splat(ma);
      const mbV = f32x4.splat(mb);
      c = 0;
      for (; c + 4 <= D; c += 4) {
        const off = (<usize>c) << 2;
        const xh = f32x4.mul(f32x4.sub(v128.load(x + at + off), muV), ivV);
        const g = f32x4.mul(v128.load(dy + at + off), v128.load(gamma + off));
        v128.store(dx + at + off, f32x4.mul(f32x4.sub(f32x4.sub(g, maV), f32x4.mul(xh, mbV)), ivV));
      }
      for (; c < D; c++) {
        const off = (<usize>c) << 2;
        const xh = (load<f32>(x + at + off) - mu) * iv;
        const g = load<f32>(dy + at + off) * load<f32>(gamma + off);
        store<f32>(dx + at + off, (g - ma - xh * mb) * iv);
      }
    }
  }
}
