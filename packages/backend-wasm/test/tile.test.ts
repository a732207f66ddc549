import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, tileAsBroadcast, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { expectSameOnWasm, spec } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

describe('tileAsBroadcast', () => {
  it('turns the BatchNorm tile into (1,C) + (N·H·W,1)', () => {
    expect(tileAsBroadcast([1, 1, 1, 8], [4, 5, 6, 1])).toEqual({ xShape: [1, 8], zShape: [120, 1] });
  });
  it('splits an axis that is both tiled and non-trivial into (reps, size)', () => {
    expect(tileAsBroadcast([2, 3], [4, 1])).toEqual({ xShape: [1, 6], zShape: [4, 1] });
    expect(tileAsBroadcast([2, 3], [1, 5])).toEqual({ xShape: [2, 1, 3], zShape: [1, 5, 1] });
  });
  it('keeps the element count: prod(xShape)·prod(zShape) = prod(shape)·prod(reps)', () => {
    const shape = [3, 1, 2, 5];
    const reps = [2, 4, 1, 3];
    const { xShape, zShape } = tileAsBroadcast(shape, reps);
    const prod = (a: number[]) => a.reduce((p, q) => p * q, 1);
    expect(prod(xShape)).toBe(prod(shape));
    expect(prod(xShape) * prod(zShape)).toBe(prod(shape) * prod(reps));
  });
});

describe('Tile on wasm equals the cpu backend (max rel. error < 1e-5)', () => {
  const cases: Array<[number[], number[]]> = [
    [
      [1, 1, 1, 5],
      [2, 3, 4, 1],
    ],
    [[5], [3]],
    [
      [2, 3],
      [2, 2],
    ],
    [
      [3, 1, 2],
      [1, 4, 3],
    ],
    [
      [2, 3, 4],
      [1, 1, 1],
    ],
    [
      [1, 2, 1, 3, 1],
      [2, 1, 3, 2, 2],
    ],
  ];
  it.each(cases)('tile(%j, %j)', async (shape, reps) => {
    await expectSameOnWasm([spec(shape, 1)], (x) => tf.tile(x, reps));
  });
  it('int32 uses the stock kernel and stays exact', async () => {
    const data = Int32Array.from([1, -2, 3, 4, 5, 6]);
    await expectSameOnWasm([{ shape: [2, 3], data, dtype: 'int32' }], (x) => tf.tile(x, [3, 2]));
  });
  it('gradient of a broadcast through batch norm moments', async () => {
    await expectSameOnWasm([spec([3, 4, 5, 6], 2)], (x) =>
      tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.square(tf.moments(xx, [0, 1, 2]).variance)))(x)),
    );
  });
});
