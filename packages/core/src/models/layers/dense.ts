import * as tf from '@tensorflow/tfjs-core';
import type { LinearOpOptions } from '../model-definition.js';

/**
 * Matrix product `a · b` of two rank-2 or two rank-3 (batched) tensors, with an optional frozen
 * right operand.
 *
 * @param a - `[m, k]` or `[b, m, k]`
 * @param b - `[k, n]` or `[b, k, n]`
 * @param options - `constantB`: no gradient flows to `b` (a frozen weight), so the backward
 *   pass computes only `∂/∂a`
 * @returns `[m, n]` or `[b, m, n]`; the caller disposes it
 * @remarks The gradients are `dy · bᵀ` and `aᵀ · dy`, passed to the backend as transposed
 * products (`transposeA`/`transposeB`) rather than physically transposed operands, so that the
 * backend picks how to run them: @unlearnjs/backend-wasm computes a dense layer's weight
 * gradient `aᵀ · dy` (a reduction over every token) on its SIMD kernel without moving `a`.
 * A custom gradient computes the gradients of all its inputs whether or not they are needed,
 * hence `constantB`, which leaves `b` out of the taped inputs.
 */
export function matMul<T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: T, options: { constantB?: boolean } = {}): T {
  if (!options.constantB) return matMulWithGrad(a, b) as T;
  const withConstantB = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([b]);
    return {
      value: tf.matMul(x, b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor, saved[0], false, true)],
    };
  });
  return withConstantB(a) as T;
}

const matMulWithGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [sa, sb] = saved as [tf.Tensor, tf.Tensor];
      return [tf.matMul(g, sb, false, true), tf.matMul(sa, g, true, false)];
    },
  };
});

/**
 * Fully connected layer `x · kernel + bias` over the last axis of a rank-2 or rank-3 input.
 *
 * @param x - `[n, in]` or `[n, t, in]`
 * @param kernel - `[in, out]`
 * @param bias - `[out]`, optional
 * @param options - `constantWeight`: the kernel gets no gradient (it is frozen), so the
 *   backward pass skips `∂/∂kernel`
 * @returns `[n, out]` or `[n, t, out]`; the caller disposes it
 */
export function dense<T extends tf.Tensor2D | tf.Tensor3D>(x: T, kernel: tf.Tensor, bias?: tf.Tensor, options: LinearOpOptions = {}): T {
  const inDim = x.shape[x.rank - 1];
  const outDim = kernel.shape[1] as number;
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, inDim]) as tf.Tensor2D);
  let y: tf.Tensor2D = matMul(flat, kernel as tf.Tensor2D, { constantB: options.constantWeight });
  if (bias) y = tf.add(y, bias);
  return (x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim])) as unknown as T;
}
