import * as tf from '@tensorflow/tfjs-core';

/**
 * 2-D convolution, NHWC input and HWIO kernel `[kh, kw, in, out]`, `same` padding, no bias.
 *
 * @param x - input `[n, h, w, in]`
 * @param kernel - `[kh, kw, in, out]`
 * @param stride - stride in both directions
 * @returns `[n, ceil(h/stride), ceil(w/stride), out]`; the caller disposes it
 * @remarks TensorFlow's `same` padding puts the extra row/column of an even-sized input at
 * stride 2 after the image (PyTorch's `padding=1` puts one on each side): outputs have the
 * same shape, the sampling grid differs by one pixel. It matters only when importing PyTorch
 * weights, not when training here.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor, stride: number): tf.Tensor4D {
  return tf.conv2d(x, kernel as tf.Tensor4D, stride, 'same');
}
