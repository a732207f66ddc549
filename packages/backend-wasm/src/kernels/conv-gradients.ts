import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import type { KernelScope } from './kernel-scope.js';

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Geometry of a forward NHWC convolution, as `backend_util.computeConv2DInfo` reports it. */
export interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** Extracts {@link ConvGeometry} from a tfjs `Conv2DInfo`. */
export function geometryOf(info: backend_util.Conv2DInfo): ConvGeometry {
  return {
    batchSize: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** How one spatial axis of `x` must be cropped and padded so a valid conv reads exactly it. */
interface AxisWindow {
  cropBegin: number;
  cropSize: number;
  padBefore: number;
  padAfter: number;
}

/**
 * Window on one axis: the forward conv read rows `[-padBefore, needed - padBefore)` of the
 * input; negative padding (rows it never read) becomes a crop, so the gradient conv does no
 * wasted work (for a 1×1 stride-2 conv an uncropped window would cost 4× the FLOPs).
 */
function axisWindow(size: number, padBefore: number, needed: number): AxisWindow {
  let cropBegin = 0;
  let before = padBefore;
  if (before < 0) {
    cropBegin = -before;
    before = 0;
  }
  let after = needed - padBefore - size;
  let cropEnd = size;
  if (after < 0) {
    cropEnd = size + after;
    after = 0;
  }
  return { cropBegin, cropSize: cropEnd - cropBegin, padBefore: before, padAfter: after };
}

function explicitPad(h: AxisWindow, w: AxisWindow): ExplicitPadding {
  return [
    [0, 0],
    [h.padBefore, h.padAfter],
    [w.padBefore, w.padAfter],
    [0, 0],
  ];
}

/** Crops the two spatial axes (1 and 2) of an NHWC-like tensor when the windows say so. */
function cropSpatial(scope: KernelScope, x: TensorInfo, h: AxisWindow, w: AxisWindow): TensorInfo {
  const [d0, d1, d2, d3] = x.shape;
  if (h.cropBegin === 0 && h.cropSize === d1 && w.cropBegin === 0 && w.cropSize === d2) return x;
  return scope.slice(x, [0, h.cropBegin, w.cropBegin, 0], [d0, h.cropSize, w.cropSize, d3]);
}

/** Keeps every `d`-th position of axes 1 and 2 (the taps of a dilated filter). */
function subsampleSpatial(scope: KernelScope, r: TensorInfo, dH: number, dW: number): TensorInfo {
  if (dH === 1 && dW === 1) return r;
  const [d0, d1, d2, d3] = r.shape;
  return scope.run(
    'StridedSlice',
    { x: r },
    {
      begin: [0, 0, 0, 0],
      end: [d0, d1, d2, d3],
      strides: [1, dH, dW, 1],
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0,
    },
  );
}

/**
 * dW of a conv (or depthwise conv) as one forward conv on the wasm backend.
 *
 * @remarks
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s + kh·d − pad, ow·s + kw·d − pad, ci] · dy[n,oh,ow,co].
 * Read with the batch as the contraction axis, this is a valid conv of xᵀ (Cin,H,W,N) — batch
 * Cin, channels N — with dyᵀ (Ho,Wo,N,Cout) as the filter, dilated by the forward stride; its
 * output (Cin,kh',kw',Cout) is transposed back to (kh,kw,Cin,Cout). Depthwise: the channels of
 * every image stay separate, so x becomes one image with N·C channels, dy a depthwise filter
 * with multiplier M, and the batch is summed afterwards. XNNPACK runs the conv as a GEMM.
 */
export function filterGradient(
  scope: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  depthwise: boolean,
  filterShape: readonly number[],
): TensorInfo {
  const khE = (g.filterHeight - 1) * g.dilationHeight + 1;
  const kwE = (g.filterWidth - 1) * g.dilationWidth + 1;
  const hWin = axisWindow(g.inHeight, g.padTop, (g.outHeight - 1) * g.strideHeight + khE);
  const wWin = axisWindow(g.inWidth, g.padLeft, (g.outWidth - 1) * g.strideWidth + kwE);
  const pad = explicitPad(hWin, wWin);
  const N = g.batchSize;
  const C = g.inChannels;
  // A 1-tap axis needs no crop (the wasm Slice kernel copies its whole input first): the rows
  // the forward conv never read only add outputs past tap 0, and a conv stride larger than
  // their count skips them.
  const strides = [1, 1];
  if (g.filterHeight === 1 && hWin.cropBegin === 0 && hWin.cropSize < g.inHeight) {
    strides[0] = g.inHeight - hWin.cropSize + 1;
    hWin.cropSize = g.inHeight;
  }
  if (g.filterWidth === 1 && wWin.cropBegin === 0 && wWin.cropSize < g.inWidth) {
    strides[1] = g.inWidth - wWin.cropSize + 1;
    wWin.cropSize = g.inWidth;
  }
  const convAttrs = { strides, pad, dilations: [g.strideHeight, g.strideWidth], dataFormat: 'NHWC' };
  const xc = cropSpatial(scope, x, hWin, wWin);

  if (!depthwise) {
    const xT = scope.transpose(xc, [3, 1, 2, 0]);
    const dyT = scope.transpose(dy, [1, 2, 0, 3]);
    const r = scope.run('Conv2D', { x: xT, filter: dyT }, convAttrs);
    const taps = subsampleSpatial(scope, r, g.dilationHeight, g.dilationWidth);
    return scope.transpose(taps, [1, 2, 0, 3]);
  }

  const M = filterShape[3];
  const xT = scope.transpose(xc, [1, 2, 0, 3]);
  const x1 = scope.reshape(xT, [1, hWin.cropSize, wWin.cropSize, N * C]);
  const dyT = scope.transpose(dy, [1, 2, 0, 3]);
  const f = scope.reshape(dyT, [g.outHeight, g.outWidth, N * C, M]);
  const r = scope.run('DepthwiseConv2dNative', { x: x1, filter: f }, convAttrs);
  const taps = subsampleSpatial(scope, r, g.dilationHeight, g.dilationWidth);
  const kk = g.filterHeight * g.filterWidth;
  const perImage = scope.reshape(taps, [kk, N, C * M]);
  const summed = N === 1 ? perImage : scope.run('Sum', { x: perImage }, { axis: [1], keepDims: false });
  return scope.reshape(summed, [g.filterHeight, g.filterWidth, C, M]);
}

/** Inserts `s − 1` zeros after every row/column of an NHWC tensor (a rank-6 pad, no scatter). */
function zeroDilate(scope: KernelScope, t: TensorInfo, sH: number, sW: number): TensorInfo {
  if (sH === 1 && sW === 1) return t;
  const [n, h, w, c] = t.shape;
  const r6 = scope.reshape(t, [n, h, 1, w, 1, c]);
  const p6 = scope.pad(r6, [
    [0, 0],
    [0, 0],
    [0, sH - 1],
    [0, 0],
    [0, sW - 1],
    [0, 0],
  ]);
  return scope.reshape(p6, [n, h * sH, w * sW, c]);
}

/**
 * dx of a conv (or depthwise conv) as one forward conv on the wasm backend.
 *
 * @remarks
 * dx is the full correlation of the zero-dilated dy with the filter rotated by 180° (in and out
 * channels swapped for a regular conv): dy is dilated by the stride with a rank-6 pad, padded by
 * `k_eff − 1 − padTop` before and what is left to reach H after (negative amounts become crops),
 * and convolved at stride 1 with the filter's own dilation. A 1×1 filter with stride > 1 skips
 * the s² wasted multiplications by convolving first and dilating the (smaller) result.
 */
export function inputGradient(scope: KernelScope, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry, depthwise: boolean): TensorInfo {
  const [kh, kw, fIn, fOut] = filter.shape;
  const sH = g.strideHeight;
  const sW = g.strideWidth;
  const N = g.batchSize;
  const H = g.inHeight;
  const W = g.inWidth;

  if (!depthwise && kh === 1 && kw === 1 && (sH > 1 || sW > 1)) {
    const wT = scope.reshape(scope.transpose(scope.reshape(filter, [fIn, fOut]), [1, 0]), [1, 1, fOut, fIn]);
    const z = scope.run('Conv2D', { x: dy, filter: wT }, { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC' });
    const zd = zeroDilate(scope, z, sH, sW);
    // Row i of dx is row i + padTop of the dilated product.
    const hWin = axisWindow(zd.shape[1], -g.padTop, H);
    const wWin = axisWindow(zd.shape[2], -g.padLeft, W);
    const cropped = cropSpatial(scope, zd, hWin, wWin);
    if (hWin.padAfter === 0 && wWin.padAfter === 0 && hWin.padBefore === 0 && wWin.padBefore === 0) return cropped;
    return scope.pad(cropped, [
      [0, 0],
      [hWin.padBefore, hWin.padAfter],
      [wWin.padBefore, wWin.padAfter],
      [0, 0],
    ]);
  }

  const khE = (kh - 1) * g.dilationHeight + 1;
  const kwE = (kw - 1) * g.dilationWidth + 1;
  const dyd = zeroDilate(scope, dy, sH, sW);
  // The padded, dilated dy must span H + khE − 1 rows starting khE − 1 − padTop rows early.
  const hWin = axisWindow(dyd.shape[1], khE - 1 - g.padTop, H + khE - 1);
  const wWin = axisWindow(dyd.shape[2], kwE - 1 - g.padLeft, W + kwE - 1);
  const dyc = cropSpatial(scope, dyd, hWin, wWin);
  const attrs = {
    strides: [1, 1],
    pad: explicitPad(hWin, wWin),
    dilations: [g.dilationHeight, g.dilationWidth],
    dataFormat: 'NHWC',
  };
  const flipped = scope.run('Reverse', { x: filter }, { dims: [0, 1] });

  if (!depthwise) {
    const wf = scope.transpose(flipped, [0, 1, 3, 2]);
    return scope.run('Conv2D', { x: dyc, filter: wf }, attrs);
  }

  const C = fIn;
  const M = fOut;
  const wf = scope.reshape(flipped, [kh, kw, C * M, 1]);
  const r = scope.run('DepthwiseConv2dNative', { x: dyc, filter: wf }, attrs);
  if (M === 1) return r;
  const r5 = scope.reshape(r, [N, H, W, C, M]);
  return scope.run('Sum', { x: r5 }, { axis: [4], keepDims: false });
}
