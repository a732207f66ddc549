import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { registerWasmTrainingKernels, setSimdConvGradients, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { FUSED_LAYER_NORM_KERNELS } from '@unlearnjs/core';
import { type InputSpec, expectSameOnWasm, spec } from './helpers.js';

const { forward: LAYER_NORM, gradient: LAYER_NORM_GRAD } = FUSED_LAYER_NORM_KERNELS;

const EPSILON = 1e-5;

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

/** The composed formula: (x − mean)/√(var + ε)·γ + β over the last axis, and its statistics. */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) {
  const last = x.rank - 1;
  const mean = tf.mean(x, last, true);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), last, true);
  const invStd = tf.rsqrt(tf.add(variance, EPSILON));
  return { y: tf.add(tf.mul(tf.mul(tf.sub(x, mean), invStd), gamma), beta), mean, invStd };
}

const flat = (ts: tf.Tensor[]) => tf.concat(ts.map((t) => tf.reshape(t, [-1])));

/** x with a different offset and spread per row, γ, β, and a probe for the gradient. */
function inputs(shape: number[], seed: number): InputSpec[] {
  const D = shape[shape.length - 1];
  const x = spec(shape, seed);
  for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i] * (1 + (Math.floor(i / D) % 5)) + (Math.floor(i / D) % 7) - 3;
  return [x, spec([D], seed + 1), spec([D], seed + 2), spec(shape, seed + 3)];
}

// D off the 4-lane vectors (7, 30) and rows below, at and past the 64-row column-sum blocks.
const shapes = [
  [3, 7],
  [2, 5, 30],
  [4, 65, 192],
  [130, 16],
];

describe('fused LayerNorm equals the composed ops on the cpu backend', () => {
  for (const path of ['SIMD on the tfjs heap', 'scalar JS'] as const) {
    describe(path, () => {
      beforeAll(() => setSimdConvGradients(path === 'SIMD on the tfjs heap'));
      afterAll(() => setSimdConvGradients(true));
      it.each(shapes)('forward %j: y, mean, 1/std', async (...shape) => {
        await expectSameOnWasm(
          inputs(shape, 3),
          (x, g, b) =>
            tf.tidy(() => flat(tf.engine().runKernel(LAYER_NORM, { x, gamma: g, beta: b }, { epsilon: EPSILON }) as tf.Tensor[])),
          (x, g, b) =>
            tf.tidy(() => {
              const o = reference(x, g, b);
              return flat([o.y, o.mean, o.invStd]);
            }),
        );
      });
      it.each(shapes)('backward %j: dx, dγ, dβ', async (...shape) => {
        await expectSameOnWasm(
          inputs(shape, 13),
          (x, g, b, p) =>
            tf.tidy(() => {
              const [, mean, invStd] = tf.engine().runKernel(LAYER_NORM, { x, gamma: g, beta: b }, { epsilon: EPSILON }) as tf.Tensor[];
              return flat(tf.engine().runKernel(LAYER_NORM_GRAD, { dy: p, x, gamma: g, mean, invStd }) as tf.Tensor[]);
            }),
          (x, g, b, p) =>
            tf.tidy(() =>
              flat(tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(reference(xx, gg, bb).y, p)))([x, g, b])),
            ),
        );
      });
    });
  }
});
