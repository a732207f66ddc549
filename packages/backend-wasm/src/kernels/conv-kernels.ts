import { backend_util } from '@tensorflow/tfjs-core';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { type ConvGeometry, filterGradient, geometryOf, inputGradient } from './conv-gradients.js';
import { type StockKernels, type WasmBackendLike, withScope } from './kernel-scope.js';
import { heapView, simdFilterGradient, simdInputGradient } from '../simd/conv-gradients-simd.js';
import { simdConvGradientsWanted, simdKernels, simdKernelsHaveFma } from '../simd/simd-module.js';
import { WINOGRAD_MIN_CHANNELS, isWinogradShape, winogradFilterGradient, winogradInputGradient } from '../simd/winograd-simd.js';
import { sparseFilterGradient, sparseInputGradient } from '../simd/sparse-conv-simd.js';

/**
 * Fewest input channels for which a stride-1 `Conv2DBackpropInput` uses the SIMD gather kernel
 * (8-channel tiles): from 32 channels it beats XNNPACK's conv of the padded dy (40–44 vs 30–36
 * GFLOP/s with FMA, 34–39 without); at 16 XNNPACK is ~5% faster.
 */
const SIMD_INPUT_MIN_CHANNELS = 32;

type Args<A> = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: unknown } & { attrs?: A };

/** The geometry of a regular NHWC conv's filter gradient, from `Conv2DBackpropFilter`'s attributes. */
function filterGradientGeometry(x: TensorInfo, attrs: Conv2DBackpropFilterAttrs): ConvGeometry {
  const { strides, pad, dimRoundingMode, filterShape } = attrs;
  return geometryOf(
    backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    ),
  );
}

/** `Conv2DBackpropFilter` for 'wasm' (absent from tfjs-backend-wasm 4.22). */
export function makeConv2DBackpropFilter(stock: StockKernels): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<Conv2DBackpropFilterAttrs>;
    const { dataFormat, filterShape } = attrs as Conv2DBackpropFilterAttrs;
    return withScope(backend as WasmBackendLike, stock, (scope) => {
      let x = inputs.x;
      let dy = inputs.dy;
      // The stock wasm Conv2D only runs NHWC; NCHW gradients are transposed in and computed there.
      if (dataFormat === 'NCHW') {
        x = scope.transpose(x, [0, 2, 3, 1]);
        dy = scope.transpose(dy, [0, 2, 3, 1]);
      }
      const g = filterGradientGeometry(x, attrs as Conv2DBackpropFilterAttrs);
      // XNNPACK runs dW as a conv with a tiny output and a huge reduction (2–25 GFLOP/s); the
      // SIMD kernel sweeps packed pixel blocks with register tiles (11–50; bench/kernels.ts).
      const [kh, kw, fin, fout] = filterShape;
      // Winograd's serial parts (the JS output transform) weigh more on several threads: there
      // it pays from 128 channels, on one thread from 64 (bench/kernels.ts).
      const minChannels = (simdKernels()?.threads ?? 1) > 1 ? 2 * WINOGRAD_MIN_CHANNELS : WINOGRAD_MIN_CHANNELS;
      const winograd = isWinogradShape(g, kh, kw, fin, fout) && Math.min(fin, fout) >= minChannels && simdKernelsHaveFma();
      const fast = !simdConvGradientsWanted()
        ? null
        : winograd
          ? winogradFilterGradient(scope.backend, x, dy, g)
          : simdFilterGradient(scope.backend, x, dy, g);
      return fast ?? filterGradient(scope, x, dy, g, false, filterShape);
    });
  };
}

/** `Conv2DBackpropInput` for 'wasm': one XNNPACK conv instead of the stock scalar loop. */
export function makeConv2DBackpropInput(stock: StockKernels): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<Conv2DBackpropInputAttrs>;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as Conv2DBackpropInputAttrs;
    const stockFn = stock.get('Conv2DBackpropInput');
    if (dataFormat === 'NCHW' && stockFn !== undefined) return stockFn(args);
    const { dy, filter } = inputs;
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const g = geometryOf(info);
    // A mostly-zero (pruned) filter: one sweep per nonzero weight.
    const sparse = sparseInputGradient(backend as WasmBackendLike, dy, filter, g);
    if (sparse !== null) return sparse;
    // Strided: the SIMD gather skips the zeros a dilated dy would multiply (3/4 of the work at
    // stride 2). Stride 1: it wins from SIMD_INPUT_MIN_CHANNELS input channels.
    const strided = g.strideHeight > 1 || g.strideWidth > 1;
    if ((strided || g.inChannels >= SIMD_INPUT_MIN_CHANNELS) && simdConvGradientsWanted()) {
      const [kh, kw, fin, fout] = filter.shape;
      const fast =
        isWinogradShape(g, kh, kw, fin, fout) && simdKernelsHaveFma()
          ? winogradInputGradient(backend as WasmBackendLike, dy, filter, g)
          : simdInputGradient(backend as WasmBackendLike, dy, filter, g);
      if (fast !== null) return fast;
    }
    return withScope(backend as WasmBackendLike, stock, (scope) => inputGradient(scope, dy, filter, g, false));
  };
}

/**
 * The masked filter gradient core's `conv2d` asks for in training
 * (`MASKED_CONV_KERNELS.filterGradient` of @unlearnjs/core): `Conv2DBackpropFilter(x, dy) ⊙ mask`. Where the mask is sparse enough
 * (`SPARSE_CONV_MAX_DENSITY`) and the conv has stride 1, only the mask's ones are computed, one
 * dot product each; otherwise the dense gradient is computed and masked.
 */
export function makeMaskedFilterGradient(stock: StockKernels): KernelFunc {
  const dense = makeConv2DBackpropFilter(stock);
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<Conv2DBackpropFilterAttrs>;
    const wasm = backend as WasmBackendLike;
    const { x, dy, mask } = inputs;
    if (attrs?.dataFormat !== 'NCHW') {
      const sparse = sparseFilterGradient(wasm, x, dy, mask, filterGradientGeometry(x, attrs as Conv2DBackpropFilterAttrs));
      if (sparse !== null) return sparse;
    }
    const out = dense({ ...args, inputs: { x, dy } }) as TensorInfo;
    const dw = heapView(wasm, out);
    const m = heapView(wasm, mask);
    for (let i = 0; i < dw.length; i++) dw[i] *= m[i];
    return out;
  };
}

/** `DepthwiseConv2dNativeBackpropFilter` for 'wasm' (absent from tfjs-backend-wasm 4.22). */
export function makeDepthwiseBackpropFilter(stock: StockKernels): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<DepthwiseConv2dNativeBackpropFilterAttrs>;
    const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as DepthwiseConv2dNativeBackpropFilterAttrs;
    const { x, dy } = inputs;
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      dilations ?? 1,
      pad,
      dimRoundingMode,
      true,
    );
    return withScope(backend as WasmBackendLike, stock, (scope) => filterGradient(scope, x, dy, geometryOf(info), true, filterShape));
  };
}

/** `DepthwiseConv2dNativeBackpropInput` for 'wasm' (absent from tfjs-backend-wasm 4.22). */
export function makeDepthwiseBackpropInput(stock: StockKernels): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<DepthwiseConv2dNativeBackpropInputAttrs>;
    const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as DepthwiseConv2dNativeBackpropInputAttrs;
    const { dy, filter } = inputs;
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      dilations ?? 1,
      pad,
      dimRoundingMode,
      true,
    );
    return withScope(backend as WasmBackendLike, stock, (scope) => inputGradient(scope, dy, filter, geometryOf(info), true));
  };
}
