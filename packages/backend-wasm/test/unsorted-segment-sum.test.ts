import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { expectSameOnWasm, spec } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

describe('UnsortedSegmentSum on wasm', () => {
  it('sums rows with duplicate ids like the cpu backend', async () => {
    const ids = { shape: [7], data: Int32Array.from([0, 3, 3, 1, 0, 3, 4]), dtype: 'int32' as const };
    await expectSameOnWasm([spec([7, 3, 2], 1), ids], (x, s) => tf.unsortedSegmentSum(x, s as tf.Tensor1D, 6));
  });

  it('drops ids outside [0, numSegments) and sums the rest (closed form)', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 10, 20, 100, 200, 1000, 2000], [4, 2]);
    const ids = tf.tensor1d([1, -1, 1, 5], 'int32');
    const out = tf.unsortedSegmentSum(x, ids, 3);
    expect(Array.from(await out.data())).toEqual([0, 0, 101, 202, 0, 0]);
    tf.dispose([x, ids, out]);
  });

  it('is the gradient of gather (embedding lookups)', async () => {
    const idx = { shape: [6], data: Int32Array.from([0, 2, 2, 4, 1, 2]), dtype: 'int32' as const };
    await expectSameOnWasm([spec([5, 4], 2), idx, spec([6, 4], 3)], (table, i, r) =>
      tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, i), r)))(table)),
    );
  });
});
