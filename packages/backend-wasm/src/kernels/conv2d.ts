import { type Conv2DAttrs, type KernelFunc, type TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import { type StockKernels, type WasmBackendLike, withScope } from './kernel-scope.js';
import { geometryOf } from './conv-gradients.js';
import { simdConv2D } from '../simd/conv-gradients-simd.js';
import { isWinogradShape, winogradForward } from '../simd/winograd-simd.js';
import { simdConvGradientsWanted, simdKernelsHaveFma } from '../simd/simd-module.js';
import { sparseConv2D } from '../simd/sparse-conv-simd.js';

/**
 * Fewest input channels for which a stride-1 `Conv2D` runs on the SIMD gather kernel (with
 * fused multiply-adds only): 40–44 GFLOP/s there against XNNPACK's 30–36 (bench/kernels.ts).
 */
const SIMD_CONV_MIN_CHANNELS = 32;

/**
 * `Conv2D` for 'wasm' that is right when a stride exceeds the filter size.
 *
 * @remarks
 * The stock tfjs-backend-wasm 4.22 `Conv2D` returns wrong values (mostly zeros) for `'same'`
 * padding when a stride is larger than the filter (e.g. a 3×3 filter at stride 4, a 2×2 at
 * stride 3), while `'valid'` padding is right. Here such a convolution is computed as the
 * explicit zero padding that `'same'` implies (tfjs's `computeConv2DInfo`) followed by the
 * stock kernel with `'valid'` padding. Stride-1 convolutions with at least
 * {@link SIMD_CONV_MIN_CHANNELS} input channels run on the package's SIMD gather kernel when it
 * has fused multiply-adds; every other case goes to the stock kernel unchanged. A stride-1 conv
 * whose filter is mostly zeros (a pruned layer: at most `SPARSE_CONV_MAX_DENSITY` nonzero) runs on
 * the sparse plane kernels first, whose work is proportional to the nonzeros.
 */
export function makeConv2D(stock: StockKernels): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: TensorInfo; filter: TensorInfo };
      backend: unknown;
      attrs: Conv2DAttrs;
    };
    const stockFn = stock.get('Conv2D') as KernelFunc;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    const [fh, fw, cin] = inputs.filter.shape;
    const convInfo = () =>
      backend_util.computeConv2DInfo(
        inputs.x.shape as [number, number, number, number],
        inputs.filter.shape as [number, number, number, number],
        strides,
        dilations,
        pad,
        dimRoundingMode,
        false,
        'channelsLast',
      );
    if (dataFormat !== 'NCHW' && inputs.x.dtype === 'float32') {
      const out = sparseConv2D(backend as WasmBackendLike, inputs.x, inputs.filter, geometryOf(convInfo()));
      if (out !== null) return out;
    }
    if (
      sh === 1 &&
      sw === 1 &&
      dataFormat !== 'NCHW' &&
      cin >= SIMD_CONV_MIN_CHANNELS &&
      inputs.x.dtype === 'float32' &&
      simdConvGradientsWanted() &&
      simdKernelsHaveFma()
    ) {
      const g = geometryOf(convInfo());
      const out = isWinogradShape(g, fh, fw, cin, inputs.filter.shape[3])
        ? winogradForward(backend as WasmBackendLike, inputs.x, inputs.filter, g)
        : simdConv2D(backend as WasmBackendLike, inputs.x, inputs.filter, g);
      if (out !== null) return out;
    }
    if (pad !== 'same' || dataFormat === 'NCHW' || (sh <= fh && sw <= fw)) return stockFn(args);
    const { top, bottom, left, right } = convInfo().padInfo;
    return withScope(backend as WasmBackendLike, stock, (scope) => {
      const padded =
        top + bottom + left + right > 0
          ? scope.pad(inputs.x, [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ])
          : inputs.x;
      return scope.run('Conv2D', { x: padded, filter: inputs.filter }, { ...args.attrs, pad: 'valid' });
    });
  };
}

/**
 * The forward kernel of core's masked conv (`MASKED_CONV_KERNELS.forward` of @unlearnjs/core):
 * {@link makeConv2D}'s conv of `x` and `filter`; the mask input is only for its gradient.
 */
export function makeMaskedConv2D(stock: StockKernels): KernelFunc {
  const conv = makeConv2D(stock);
  return (args) => conv({ ...args, inputs: { x: args.inputs.x, filter: args.inputs.filter } });
}
