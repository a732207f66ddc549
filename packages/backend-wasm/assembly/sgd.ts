// The SGD update of one parameter tensor in one SIMD pass (compiled into the same module as
// conv-gradients.ts; run on the tfjs heap like batch-norm.ts). Each step is a float32 multiply or
// add in the order of the composed ops in @unlearnjs/core's SgdOptimizer (never a fused
// multiply-add), so the result is bit-identical to them:
//   g = (dw + w·wd)·mask;  b' = b·μ + g;  u = nesterov ? g + b'·μ : b';  w' = (w − u·lr)·mask.
// `mask` = 0: no mask; `buf` = 0: no momentum (u = g, nothing written to bufOut).

/** One SGD step over `n` floats; the outputs may alias the inputs. */
export function sgdStep(
  w: usize,
  dw: usize,
  buf: usize,
  mask: usize,
  wOut: usize,
  bufOut: usize,
  n: i32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
  nesterov: i32,
): void {
  const lrV = f32x4.splat(lr);
  const muV = f32x4.splat(momentum);
  const wdV = f32x4.splat(weightDecay);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    const wv = v128.load(w + off);
    let g = v128.load(dw + off);
    if (weightDecay !== 0) g = f32x4.add(g, f32x4.mul(wv, wdV));
    if (mask) g = f32x4.mul(g, v128.load(mask + off));
    let u = g;
    if (buf) {
      const b = f32x4.add(f32x4.mul(v128.load(buf + off), muV), g);
      v128.store(bufOut + off, b);
      u = nesterov ? f32x4.add(g, f32x4.mul(b, muV)) : b;
    }
    let next = f32x4.sub(wv, f32x4.mul(u, lrV));
    if (mask) next = f32x4.mul(next, v128.load(mask + off));
    v128.store(wOut + off, next);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 2;
    const wv = load<f32>(w + off);
    let g = load<f32>(dw + off);
    if (weightDecay !== 0) g = g + wv * weightDecay;
    if (mask) g = g * load<f32>(mask + off);
    let u = g;
    if (buf) {
      const b = load<f32>(buf + off) * momentum + g;
      store<f32>(bufOut + off, b);
      u = nesterov ? g + b * momentum : b;
    }
    let next = wv - u * lr;
    if (mask) next = next * load<f32>(mask + off);
    store<f32>(wOut + off, next);
  }
}
