import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { expectSameOnWasm, spec } from './helpers.js';

// The stock wasm Conv2D is wrong for 'same' padding when a stride exceeds the filter size
// (found training a 3×3 stride-4 conv: outputs were zeros). These cases must match cpu.
const CASES: Array<[filter: number, stride: number, size: number]> = [
  [3, 4, 32],
  [3, 5, 9],
  [2, 3, 9],
  [2, 4, 32],
  [1, 2, 9],
  [3, 3, 9],
  [3, 1, 11],
];

describe('Conv2D on wasm', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });
  afterAll(() => {
    unregisterWasmTrainingKernels();
  });

  it.each(CASES)('matches cpu: filter %i, stride %i, input %i ("same" and "valid")', async (k, s, hw) => {
    for (const pad of ['same', 'valid'] as const) {
      await expectSameOnWasm([spec([2, hw, hw, 3], 1), spec([k, k, 3, 4], 2)], (x, w) =>
        tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad),
      );
      await expectSameOnWasm([spec([2, hw, hw, 3], 3), spec([k, k, 3, 4], 4)], (x, w) =>
        tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad))))(w),
      );
    }
  });

  it('is what the stock kernel gets wrong (guards the reason this kernel exists)', async () => {
    unregisterWasmTrainingKernels();
    await tf.setBackend('wasm');
    const x = tf.ones([1, 32, 32, 1]) as tf.Tensor4D;
    const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
    const stock = tf.conv2d(x, w, 4, 'same');
    const stockMax = tf.max(stock).dataSync()[0];
    registerWasmTrainingKernels();
    const fixed = tf.conv2d(x, w, 4, 'same');
    expect(tf.max(fixed).dataSync()[0]).toBe(9);
    // If a later tfjs release fixes the stock kernel, this kernel can go.
    expect(stockMax).not.toBe(9);
    tf.dispose([x, w, stock, fixed]);
  });
});
