// SIMD kernels for the two convolution gradients, compiled by AssemblyScript
// (scripts/build-simd.mjs) into a small wasm module with its own memory.
//
// The JS side (src/simd/) lays out zero-padded copies of the operands in this module's memory so
// that every kernel reads in bounds and every channel count is a multiple of the vector tile:
// no edge cases in the inner loops. All sizes are in elements, all pointers in bytes.

/**
 * a·b + c per lane. The relaxed-SIMD build (simd-kernels-relaxed.wasm) emits one fused
 * multiply-add (`f32x4.relaxed_madd`, an FMA instruction where the CPU has one); the baseline
 * build a multiply and an add. The branch is a compile-time constant and folds away.
 */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Stores a 4 × 8 register tile: row i (two vectors) at `out + i·stride`. */
function storeTile(
  out: usize,
  stride: usize,
  a00: v128,
  a01: v128,
  a10: v128,
  a11: v128,
  a20: v128,
  a21: v128,
  a30: v128,
  a31: v128,
): void {
  v128.store(out, a00);
  v128.store(out, a01, 16);
  v128.store(out + stride, a10);
  v128.store(out + stride, a11, 16);
  v128.store(out + 2 * stride, a20);
  v128.store(out + 2 * stride, a21, 16);
  v128.store(out + 3 * stride, a30);
  v128.store(out + 3 * stride, a31, 16);
}

/** First byte the JS side may use for operands (everything above is free). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(15 as usize);
}

/**
 * dW[kh,kw,ci,co] += Σ_{n,oh,ow} xp[n, oh·sH + kh·dH, ow·sW + kw·dW, ci] · dy[n,oh,ow,co].
 *
 * `xp` is [N, Hp, Wp, C] (already padded so every tap of every output reads inside it),
 * `dy` is [N, Ho, Wo, K], `dw` is [KH, KW, C, K] and is accumulated into (zero it first).
 * C must be a multiple of 4 and K of 8. Only input channels [ciBegin, ciEnd) (multiples of 4) are
 * computed, so threads can share the work on disjoint parts of dW; part `part` uses its own
 * scratch, `rowsPerBlock·Wo·(K + C)` floats from `scratch + part · that`.
 *
 * The pixels are taken `rowsPerBlock` output rows at a time. Each block of dy is packed once as
 * [K/8][pixels][8], and with `packX` ≠ 0 for each tap the block of x it reads as
 * [C/4][pixels][4], so every (4-channel, 8-channel) tile then sweeps two contiguous streams (16
 * and 32 bytes per pixel, in L1) with its 8 accumulators in registers, whatever the map's width or
 * the channel stride. With `packX` = 0 x is read in place, one output row at a time: for few
 * output channels (K/8 tiles share each packed x) the packing costs more than it saves.
 */
export function filterGradient(
  xp: usize,
  dy: usize,
  dw: usize,
  N: i32,
  Hp: i32,
  Wp: i32,
  C: i32,
  Ho: i32,
  Wo: i32,
  K: i32,
  KH: i32,
  KW: i32,
  sH: i32,
  sW: i32,
  dH: i32,
  dW: i32,
  rowsPerBlock: i32,
  scratch: usize,
  packX: i32,
  ciBegin: i32,
  ciEnd: i32,
  part: i32,
): void {
  const rows = N * Ho;
  const blockPx = rowsPerBlock * Wo;
  const dyPack = scratch + ((<usize>(part * blockPx * (K + C))) << 2);
  const xPack = dyPack + ((<usize>(blockPx * K)) << 2);
  const kBytes = (<usize>K) << 2;
  const xPixStep = (<usize>(sW * C)) << 2;
  const tiles = (ciEnd - ciBegin) >> 2;
  for (let r0 = 0; r0 < rows; r0 += rowsPerBlock) {
    const r1 = min(rows, r0 + rowsPerBlock);
    const P = (r1 - r0) * Wo;
    // dy block → [K/8][P][8]
    let p = 0;
    for (let r = r0; r < r1; r++) {
      let src = dy + ((<usize>(r * Wo * K)) << 2);
      for (let ow = 0; ow < Wo; ow++) {
        for (let co8 = 0; co8 < K >> 3; co8++) {
          const d = dyPack + ((<usize>(co8 * P + p)) << 5);
          v128.store(d, v128.load(src + ((<usize>co8) << 5)));
          v128.store(d, v128.load(src + ((<usize>co8) << 5), 16), 16);
        }
        src += kBytes;
        p++;
      }
    }
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        // x block of this tap, channels [ciBegin, ciEnd) → [tiles][P][4] (when packing)
        p = 0;
        const packEnd = packX ? r1 : r0;
        for (let r = r0; r < packEnd; r++) {
          const n = r / Ho;
          const oh = r - n * Ho;
          let src = xp + ((<usize>(((n * Hp + oh * sH + kh * dH) * Wp + kw * dW) * C + ciBegin)) << 2);
          for (let ow = 0; ow < Wo; ow++) {
            for (let t = 0; t < tiles; t++) v128.store(xPack + ((<usize>(t * P + p)) << 4), v128.load(src + ((<usize>t) << 4)));
            src += xPixStep;
            p++;
          }
        }
        for (let t = 0; t < tiles; t++) {
          const ci = ciBegin + (t << 2);
          for (let co = 0; co < K; co += 8) {
            const out = dw + ((<usize>(((kh * KW + kw) * C + ci) * K + co)) << 2);
            let a00 = v128.load(out);
            let a01 = v128.load(out, 16);
            let a10 = v128.load(out + kBytes);
            let a11 = v128.load(out + kBytes, 16);
            let a20 = v128.load(out + 2 * kBytes);
            let a21 = v128.load(out + 2 * kBytes, 16);
            let a30 = v128.load(out + 3 * kBytes);
            let a31 = v128.load(out + 3 * kBytes, 16);
            let dq = dyPack + ((<usize>((co >> 3) * P)) << 5);
            // Packed: one stream of P pixels. Direct: one segment per output row, read in place.
            const segments = packX ? 1 : r1 - r0;
            const length = packX ? P : Wo;
            const xStep: usize = packX ? 16 : xPixStep;
            for (let g = 0; g < segments; g++) {
              let xq: usize;
              if (packX) {
                xq = xPack + ((<usize>(t * P)) << 4);
              } else {
                const r = r0 + g;
                const n = r / Ho;
                const oh = r - n * Ho;
                xq = xp + ((<usize>(((n * Hp + oh * sH + kh * dH) * Wp + kw * dW) * C + ci)) << 2);
              }
              for (let q = 0; q < length; q++) {
                const d0 = v128.load(dq);
                const d1 = v128.load(dq, 16);
                const x0 = v128.load32_splat(xq);
                const x1 = v128.load32_splat(xq + 4);
                const x2 = v128.load32_splat(xq + 8);
                const x3 = v128.load32_splat(xq + 12);
                a00 = madd(x0, d0, a00);
                a01 = madd(x0, d1, a01);
                a10 = madd(x1, d0, a10);
                a11 = madd(x1, d1, a11);
                a20 = madd(x2, d0, a20);
                a21 = madd(x2, d1, a21);
                a30 = madd(x3, d0, a30);
                a31 = madd(x3, d1, a31);
                xq += xStep;
                dq += 32;
              }
            }
            storeTile(out, kBytes, a00, a01, a10, a11, a20, a21, a30, a31);
          }
        }
      }
    }
  }
}

/**
 * dx[n, ih, iw, ci] = Σ over the taps that reach (ih, iw) and all co of dy · w.
 *
 * Gather form: output pixel (ih, iw) is reached by tap kh when ih + padT − kh·dH is a multiple of
 * sH (then oh = that / sH), likewise for kw, so a strided conv skips the zero rows and columns of
 * the dilated dy instead of multiplying them. `dyp` is dy padded with zeros to
 * [N, Hq, Wq, K] (dy[n,oh,ow] at [n, oh + offH, ow + offW]) so every tap reads in bounds; `wt` is
 * the filter packed as [C/8, KH, KW, K, 8] (each 8-channel tile's taps one contiguous stream);
 * `dx` is [N, H, Wx, C] with Wx a multiple of 4·sW
 * (columns past the real width are computed and dropped by the caller). C is a multiple of 8.
 * Four output columns of one phase (iw ≡ p mod sW) read four consecutive dy columns. Only output
 * rows [rowBegin, rowEnd) of the N·H rows are computed (threads share the rows).
 */
export function inputGradient(
  dyp: usize,
  wt: usize,
  dx: usize,
  _N: i32, // the batch: the kernel gets its rows of N·H as [rowBegin, rowEnd)
  H: i32,
  Wx: i32,
  C: i32,
  Hq: i32,
  Wq: i32,
  K: i32,
  KH: i32,
  KW: i32,
  sH: i32,
  sW: i32,
  dH: i32,
  dW: i32,
  padT: i32,
  padL: i32,
  offH: i32,
  offW: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const pixStep = (<usize>(sW * C)) << 2;
  const groups = Wx / (4 * sW);
  // Rows are taken in blocks of about 64 output pixels, and each 8-channel filter tile (all taps
  // × K, up to 147 KB) sweeps the whole block before the next tile is read: once per block
  // instead of once per 4 pixels, which kept the large layers' filters streaming from L3.
  const blockRows = max(1, 64 / Wx);
  for (let b0 = rowBegin; b0 < rowEnd; b0 += blockRows) {
    const b1 = min(rowEnd, b0 + blockRows);
    for (let ci = 0; ci < C; ci += 8) {
      for (let r = b0; r < b1; r++) {
        const n = r / H;
        const ih = r - n * H;
        const rowOut = dx + ((<usize>((n * H + ih) * Wx * C)) << 2);
        for (let p = 0; p < sW; p++) {
          for (let g = 0; g < groups; g++) {
            const iw0 = p + g * 4 * sW;
            let a00 = f32x4.splat(0);
            let a01 = f32x4.splat(0);
            let a10 = f32x4.splat(0);
            let a11 = f32x4.splat(0);
            let a20 = f32x4.splat(0);
            let a21 = f32x4.splat(0);
            let a30 = f32x4.splat(0);
            let a31 = f32x4.splat(0);
            for (let kh = 0; kh < KH; kh++) {
              const th = ih + padT - kh * dH;
              // Only taps whose row lands on a dy row (th may be negative: oh < 0 is zero padding).
              if (th % sH !== 0) continue;
              const oh = th / sH;
              const rowIn = dyp + ((<usize>((n * Hq + oh + offH) * Wq)) << 2) * K;
              for (let kw = 0; kw < KW; kw++) {
                const tw = iw0 + padL - kw * dW;
                if (tw % sW !== 0) continue;
                const ow = tw / sW;
                let q = rowIn + ((<usize>((ow + offW) * K)) << 2);
                const kBytes = (<usize>K) << 2;
                let wq = wt + ((<usize>((((ci >> 3) * KH + kh) * KW + kw) * K)) << 5);
                for (let co = 0; co < K; co++) {
                  const w0 = v128.load(wq);
                  const w1 = v128.load(wq, 16);
                  const y0 = v128.load32_splat(q);
                  const y1 = v128.load32_splat(q + kBytes);
                  const y2 = v128.load32_splat(q + 2 * kBytes);
                  const y3 = v128.load32_splat(q + 3 * kBytes);
                  a00 = madd(y0, w0, a00);
                  a01 = madd(y0, w1, a01);
                  a10 = madd(y1, w0, a10);
                  a11 = madd(y1, w1, a11);
                  a20 = madd(y2, w0, a20);
                  a21 = madd(y2, w1, a21);
                  a30 = madd(y3, w0, a30);
                  a31 = madd(y3, w1, a31);
                  q += 4;
                  wq += 32;
                }
              }
            }
            const o = rowOut + ((<usize>(iw0 * C + ci)) << 2);
            storeTile(o, pixStep, a00, a01, a10, a11, a20, a21, a30, a31);
          }
        }
      }
    }
  }
}

/**
 * acc[part·C + c] = Σ_{r ∈ [rowBegin, rowEnd)} src[r·C + c] for a row-major [rows, C] matrix
 * (C a multiple of 4): the column sums of a reduction over leading axes (BatchNorm statistics,
 * bias gradients). Rows are added into a float32 block accumulator (`blockAcc`, C floats per
 * part) 64 at a time, and each block total into float64 `acc`, so the error stays that of
 * 64-term float32 sums however many rows there are.
 */
export function columnSums(src: usize, C: i32, blockAcc: usize, acc: usize, rowBegin: i32, rowEnd: i32, part: i32): void {
  const cBytes = (<usize>C) << 2;
  const blk = blockAcc + <usize>part * cBytes;
  const out = acc + ((<usize>(part * C)) << 3);
  for (let c = 0; c < C; c += 2) v128.store(out + ((<usize>c) << 3), f64x2.splat(0));
  for (let r0 = rowBegin; r0 < rowEnd; r0 += 64) {
    const r1 = min(rowEnd, r0 + 64);
    for (let c = 0; c < C; c += 4) v128.store(blk + ((<usize>c) << 2), f32x4.splat(0));
    for (let r = r0; r < r1; r++) {
      const row = src + <usize>r * cBytes;
      for (let c = 0; c < C; c += 4) {
        const at = blk + ((<usize>c) << 2);
        v128.store(at, f32x4.add(v128.load(at), v128.load(row + ((<usize>c) << 2))));
      }
    }
    for (let c = 0; c < C; c += 4) {
      const v = v128.load(blk + ((<usize>c) << 2));
      const o = out + ((<usize>c) << 3);
      v128.store(o, f64x2.add(v128.load(o), f64x2.promote_low_f32x4(v)));
      v128.store(o, f64x2.add(v128.load(o, 16), f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))), 16);
    }
  }
}

/**
 * Index of the top-left pixel of 2×2 tile t (tiles numbered n, i, j over N images of th × tw
 * tiles) in an image grid of `rows` × `cols` pixels per image: (n·rows + 2i)·cols + 2j.
 */
function tilePixel(t: i32, th: i32, tw: i32, rows: i32, cols: i32): i32 {
  const n = t / (th * tw);
  const rem = t - n * th * tw;
  const i = rem / tw;
  const j = rem - i * tw;
  return (n * rows + 2 * i) * cols + 2 * j;
}

/**
 * Winograd F(2×2, 3×3) input transform: for every 2×2 output tile t = (n, i, j) and 4 channels,
 * V[ξ·4+ν][t][c] = (Bᵀ d B)[ξ][ν] with d the 4×4 patch xp[n, 2i .. 2i+3, 2j .. 2j+3, c].
 * `xp` is [N, 2·th + 2, 2·tw + 2, C] (already padded), `v` is [16][T][C] with T = Tx rows per
 * plane (tiles past N·th·tw are left alone). Tiles [tileBegin, tileEnd) only (threads).
 */
export function winogradInput(xp: usize, v: usize, th: i32, tw: i32, C: i32, Tx: i32, tileBegin: i32, tileEnd: i32): void {
  const Wp = 2 * tw + 2;
  const Hp = 2 * th + 2;
  const rowBytes = (<usize>(Wp * C)) << 2;
  const pix = (<usize>C) << 2;
  const plane = (<usize>(Tx * C)) << 2;
  for (let t = tileBegin; t < tileEnd; t++) {
    const base = xp + ((<usize>(tilePixel(t, th, tw, Hp, Wp) * C)) << 2);
    const out = v + ((<usize>(t * C)) << 2);
    for (let c = 0; c < C; c += 4) {
      const p = base + ((<usize>c) << 2);
      // Rows of the patch, 4 columns each.
      const d00 = v128.load(p);
      const d01 = v128.load(p + pix);
      const d02 = v128.load(p + 2 * pix);
      const d03 = v128.load(p + 3 * pix);
      const d10 = v128.load(p + rowBytes);
      const d11 = v128.load(p + rowBytes + pix);
      const d12 = v128.load(p + rowBytes + 2 * pix);
      const d13 = v128.load(p + rowBytes + 3 * pix);
      const d20 = v128.load(p + 2 * rowBytes);
      const d21 = v128.load(p + 2 * rowBytes + pix);
      const d22 = v128.load(p + 2 * rowBytes + 2 * pix);
      const d23 = v128.load(p + 2 * rowBytes + 3 * pix);
      const d30 = v128.load(p + 3 * rowBytes);
      const d31 = v128.load(p + 3 * rowBytes + pix);
      const d32 = v128.load(p + 3 * rowBytes + 2 * pix);
      const d33 = v128.load(p + 3 * rowBytes + 3 * pix);
      // Bᵀ d: row combinations.
      const r00 = f32x4.sub(d00, d20);
      const r01 = f32x4.sub(d01, d21);
      const r02 = f32x4.sub(d02, d22);
      const r03 = f32x4.sub(d03, d23);
      const r10 = f32x4.add(d10, d20);
      const r11 = f32x4.add(d11, d21);
      const r12 = f32x4.add(d12, d22);
      const r13 = f32x4.add(d13, d23);
      const r20 = f32x4.sub(d20, d10);
      const r21 = f32x4.sub(d21, d11);
      const r22 = f32x4.sub(d22, d12);
      const r23 = f32x4.sub(d23, d13);
      const r30 = f32x4.sub(d10, d30);
      const r31 = f32x4.sub(d11, d31);
      const r32 = f32x4.sub(d12, d32);
      const r33 = f32x4.sub(d13, d33);
      const o = out + ((<usize>c) << 2);
      // (Bᵀ d) B: the same combinations of columns.
      v128.store(o, f32x4.sub(r00, r02));
      v128.store(o + plane, f32x4.add(r01, r02));
      v128.store(o + 2 * plane, f32x4.sub(r02, r01));
      v128.store(o + 3 * plane, f32x4.sub(r01, r03));
      v128.store(o + 4 * plane, f32x4.sub(r10, r12));
      v128.store(o + 5 * plane, f32x4.add(r11, r12));
      v128.store(o + 6 * plane, f32x4.sub(r12, r11));
      v128.store(o + 7 * plane, f32x4.sub(r11, r13));
      v128.store(o + 8 * plane, f32x4.sub(r20, r22));
      v128.store(o + 9 * plane, f32x4.add(r21, r22));
      v128.store(o + 10 * plane, f32x4.sub(r22, r21));
      v128.store(o + 11 * plane, f32x4.sub(r21, r23));
      v128.store(o + 12 * plane, f32x4.sub(r30, r32));
      v128.store(o + 13 * plane, f32x4.add(r31, r32));
      v128.store(o + 14 * plane, f32x4.sub(r32, r31));
      v128.store(o + 15 * plane, f32x4.sub(r31, r33));
    }
  }
}

/**
 * Winograd F(2×2, 3×3) output transform: y[n, 2i + a, 2j + b, c] = (Aᵀ m A)[a][b] with
 * m[ξ][ν] = M[ξ·4+ν][t][c]. `m` is [16][Tx][C], `y` is [N, 2·th, 2·tw, C] (the caller crops odd
 * sizes). Tiles [tileBegin, tileEnd) only.
 */
export function winogradOutput(m: usize, y: usize, th: i32, tw: i32, C: i32, Tx: i32, tileBegin: i32, tileEnd: i32): void {
  const Wy = 2 * tw;
  const rowBytes = (<usize>(Wy * C)) << 2;
  const pix = (<usize>C) << 2;
  const plane = (<usize>(Tx * C)) << 2;
  for (let t = tileBegin; t < tileEnd; t++) {
    const src = m + ((<usize>(t * C)) << 2);
    const dst = y + ((<usize>(tilePixel(t, th, tw, 2 * th, Wy) * C)) << 2);
    for (let c = 0; c < C; c += 4) {
      const q = src + ((<usize>c) << 2);
      // Aᵀ m: r0 = m0 + m1 + m2, r1 = m1 − m2 − m3 (rows ξ), per column ν.
      const m00 = v128.load(q);
      const m01 = v128.load(q + plane);
      const m02 = v128.load(q + 2 * plane);
      const m03 = v128.load(q + 3 * plane);
      const m10 = v128.load(q + 4 * plane);
      const m11 = v128.load(q + 5 * plane);
      const m12 = v128.load(q + 6 * plane);
      const m13 = v128.load(q + 7 * plane);
      const m20 = v128.load(q + 8 * plane);
      const m21 = v128.load(q + 9 * plane);
      const m22 = v128.load(q + 10 * plane);
      const m23 = v128.load(q + 11 * plane);
      const m30 = v128.load(q + 12 * plane);
      const m31 = v128.load(q + 13 * plane);
      const m32 = v128.load(q + 14 * plane);
      const m33 = v128.load(q + 15 * plane);
      const a0 = f32x4.add(f32x4.add(m00, m10), m20);
      const a1 = f32x4.add(f32x4.add(m01, m11), m21);
      const a2 = f32x4.add(f32x4.add(m02, m12), m22);
      const a3 = f32x4.add(f32x4.add(m03, m13), m23);
      const b0 = f32x4.sub(f32x4.sub(m10, m20), m30);
      const b1 = f32x4.sub(f32x4.sub(m11, m21), m31);
      const b2 = f32x4.sub(f32x4.sub(m12, m22), m32);
      const b3 = f32x4.sub(f32x4.sub(m13, m23), m33);
      const o = dst + ((<usize>c) << 2);
      v128.store(o, f32x4.add(f32x4.add(a0, a1), a2));
      v128.store(o + pix, f32x4.sub(f32x4.sub(a1, a2), a3));
      v128.store(o + rowBytes, f32x4.add(f32x4.add(b0, b1), b2));
      v128.store(o + rowBytes + pix, f32x4.sub(f32x4.sub(b1, b2), b3));
    }
  }
}

/**
 * Winograd F(3×3, 2×2) transform of dy for the filter gradient: for every 2×2 tile t = (n, i, j)
 * of dy (padded to even sizes, [N, 2·th, 2·tw, K]) and 4 channels,
 * D[ξ·4+ν][t][c] = (G h Gᵀ)[ξ][ν] with G = [[1,0],[½,½],[½,−½],[0,1]]. `d` is [16][Tx][K].
 * Tiles [tileBegin, tileEnd) only.
 */
export function winogradGradTransform(dy: usize, d: usize, th: i32, tw: i32, K: i32, Tx: i32, tileBegin: i32, tileEnd: i32): void {
  const rowBytes = (<usize>(2 * tw * K)) << 2;
  const pix = (<usize>K) << 2;
  const plane = (<usize>(Tx * K)) << 2;
  const half = f32x4.splat(0.5);
  for (let t = tileBegin; t < tileEnd; t++) {
    const src = dy + ((<usize>(tilePixel(t, th, tw, 2 * th, 2 * tw) * K)) << 2);
    const out = d + ((<usize>(t * K)) << 2);
    for (let c = 0; c < K; c += 4) {
      const p = src + ((<usize>c) << 2);
      const h00 = v128.load(p);
      const h01 = v128.load(p + pix);
      const h10 = v128.load(p + rowBytes);
      const h11 = v128.load(p + rowBytes + pix);
      // G h: rows [h0, (h0+h1)/2, (h0−h1)/2, h1], two columns each.
      const g00 = h00;
      const g01 = h01;
      const g10 = f32x4.mul(f32x4.add(h00, h10), half);
      const g11 = f32x4.mul(f32x4.add(h01, h11), half);
      const g20 = f32x4.mul(f32x4.sub(h00, h10), half);
      const g21 = f32x4.mul(f32x4.sub(h01, h11), half);
      const g30 = h10;
      const g31 = h11;
      const o = out + ((<usize>c) << 2);
      // (G h) Gᵀ: the same on the columns.
      v128.store(o, g00);
      v128.store(o + plane, f32x4.mul(f32x4.add(g00, g01), half));
      v128.store(o + 2 * plane, f32x4.mul(f32x4.sub(g00, g01), half));
      v128.store(o + 3 * plane, g01);
      v128.store(o + 4 * plane, g10);
      v128.store(o + 5 * plane, f32x4.mul(f32x4.add(g10, g11), half));
      v128.store(o + 6 * plane, f32x4.mul(f32x4.sub(g10, g11), half));
      v128.store(o + 7 * plane, g11);
      v128.store(o + 8 * plane, g20);
      v128.store(o + 9 * plane, f32x4.mul(f32x4.add(g20, g21), half));
      v128.store(o + 10 * plane, f32x4.mul(f32x4.sub(g20, g21), half));
      v128.store(o + 11 * plane, g21);
      v128.store(o + 12 * plane, g30);
      v128.store(o + 13 * plane, f32x4.mul(f32x4.add(g30, g31), half));
      v128.store(o + 14 * plane, f32x4.mul(f32x4.sub(g30, g31), half));
      v128.store(o + 15 * plane, g31);
    }
  }
}
