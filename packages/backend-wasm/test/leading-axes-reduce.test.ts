import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leadingReduction, registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { expectSameOnWasm, spec } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

describe('leadingReduction', () => {
  it('views a reduction over the leading axes as [rows, cols]', () => {
    expect(leadingReduction([4, 5, 6, 8], [0, 1, 2])).toEqual({ rows: 120, cols: 8 });
    expect(leadingReduction([4, 65, 192], [0, 1])).toEqual({ rows: 260, cols: 192 });
    expect(leadingReduction([4, 5, 6], [-3])).toEqual({ rows: 4, cols: 30 });
  });
  it('ignores size-1 axes wherever they are', () => {
    expect(leadingReduction([1, 5, 1, 6], [1])).toEqual({ rows: 5, cols: 6 });
    expect(leadingReduction([5, 1, 6], [0, 1])).toEqual({ rows: 5, cols: 6 });
  });
  it('declines inner, interleaved and full reductions', () => {
    expect(leadingReduction([4, 5, 6], [2])).toBeUndefined();
    expect(leadingReduction([4, 5, 6], [0, 2])).toBeUndefined();
    expect(leadingReduction([4, 5, 6], [0, 1, 2])).toBeUndefined();
  });
});

describe('Sum and Mean on wasm equal the cpu backend (max rel. error < 1e-5)', () => {
  const cases: Array<[number[], number[], boolean]> = [
    [[3, 4, 5, 6], [0, 1, 2], false],
    [[3, 4, 5, 6], [0, 1, 2], true],
    [[5, 7, 9], [0, 1], false],
    [[5, 7, 9], [0], true],
    [[7, 3, 2], [0, 1], false],
    [[1, 7, 1, 3], [0, 1], false],
    [[2, 3, 4], [2], false],
    [[2, 3, 4], [0, 2], true],
    [[2, 3, 4], [0, 1, 2], false],
  ];
  it.each(cases)('sum(%j, %j, keepDims %s)', async (shape, axes, keep) => {
    await expectSameOnWasm([spec(shape, 3)], (x) => tf.sum(x, axes, keep));
  });
  it.each(cases)('mean(%j, %j, keepDims %s)', async (shape, axes, keep) => {
    await expectSameOnWasm([spec(shape, 4)], (x) => tf.mean(x, axes, keep));
  });
  it('int32 sums use the stock kernel and stay exact', async () => {
    const data = Int32Array.from({ length: 24 }, (_, i) => i - 7);
    await expectSameOnWasm([{ shape: [4, 3, 2], data, dtype: 'int32' }], (x) => tf.sum(x, [0, 1]));
  });
  it('the gradient of a BatchNorm-style normalisation', async () => {
    // Σ r·x̂ with a fixed random r (Σ x̂² alone is constant per channel: its gradient is 0).
    await expectSameOnWasm([spec([4, 3, 3, 5], 5), spec([4, 3, 3, 5], 6)], (x, r) =>
      tf.tidy(() =>
        tf.grad((xx: tf.Tensor) => {
          const m = tf.mean(xx, [0, 1, 2]);
          const c = tf.sub(xx, m);
          const v = tf.mean(tf.square(c), [0, 1, 2]);
          return tf.sum(tf.mul(tf.div(c, tf.sqrt(tf.add(v, 1e-5))), r));
        })(x),
      ),
    );
  });
});
