import * as tf from '@tensorflow/tfjs-core';
import { MASKED_CONV_KERNELS } from '../../backend/fused-kernels.js';
import { backendHasKernels } from '../../backend/has-kernels.js';
import type { LinearOpOptions } from '../model-definition.js';

/**
 * 2-D convolution, NHWC input and HWIO kernel `[kh, kw, in, out]`, `same` padding, no bias.
 *
 * @param x - input `[n, h, w, in]`
 * @param kernel - `[kh, kw, in, out]`
 * @param stride - stride in both directions
 * @param options - `gradientMask`: the kernel's gradient is needed only where this 0/1 mask is
 *   1 (a pruned weight in training); where the backend registers {@link MASKED_CONV_KERNELS},
 *   the backward pass asks it for the gradient at the mask's ones only and gets 0 elsewhere
 * @returns `[n, ceil(h/stride), ceil(w/stride), out]`; the caller disposes it
 * @remarks TensorFlow's `same` padding puts the extra row/column of an even-sized input at
 * stride 2 after the image (PyTorch's `padding=1` puts one on each side): outputs have the
 * same shape, the sampling grid differs by one pixel. It matters only when importing PyTorch
 * weights, not when training here.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor, stride: number, options: LinearOpOptions = {}): tf.Tensor4D {
  const mask = options.gradientMask;
  if (mask === undefined || !backendHasKernels(MASKED_CONV_KERNELS.forward, MASKED_CONV_KERNELS.filterGradient)) {
    return tf.conv2d(x, kernel as tf.Tensor4D, stride, 'same');
  }
  registerMaskedConvGradient();
  const attrs = { strides: [stride, stride], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
  return tf
    .engine()
    .runKernel(MASKED_CONV_KERNELS.forward, { x, filter: kernel, mask }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * Registers the gradient of {@link MASKED_CONV_KERNELS}' forward kernel (once): a registered
 * gradient, unlike `tf.customGrad`, computes each input's gradient only when the tape needs it,
 * so a first layer (whose input is the data) computes no dx.
 */
function registerMaskedConvGradient(): void {
  if (tf.getGradient(MASKED_CONV_KERNELS.forward) !== undefined) return;
  tf.registerGradient({
    kernelName: MASKED_CONV_KERNELS.forward,
    inputsToSave: ['x', 'filter', 'mask'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, mask] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor];
      const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
      const g = dy as tf.Tensor4D;
      return {
        x: () =>
          tf.engine().runKernel('Conv2DBackpropInput', { dy: g, filter }, {
            strides,
            pad,
            dataFormat,
            dimRoundingMode,
            inputShape: x.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        filter: () =>
          tf.engine().runKernel(MASKED_CONV_KERNELS.filterGradient, { x, dy: g, mask }, {
            strides,
            pad,
            dataFormat,
            dimRoundingMode,
            filterShape: filter.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        mask: () => tf.zerosLike(mask),
      };
    },
  });
}
