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

type Mem = tf.MemoryInfo & { numDataBuffers: number };

describe('zero-copy Identity on wasm', () => {
  it('a clone shares the buffer (no new wasm buffer) and holds the same values', () => {
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const before = tf.memory() as Mem;
    const y = tf.clone(x);
    expect((tf.memory() as Mem).numDataBuffers).toBe(before.numDataBuffers);
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    tf.dispose([x, y]);
  });

  it('a clone outlives its source, and the buffer is freed with the last reference', () => {
    const start = tf.memory() as Mem;
    const x = tf.tensor([5, 6, 7]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([5, 6, 7]);
    y.dispose();
    const end = tf.memory() as Mem;
    expect(end.numDataBuffers).toBe(start.numDataBuffers);
    expect(end.numTensors).toBe(start.numTensors);
  });

  it('assigning a variable does not change an earlier clone of it', () => {
    const v = tf.variable(tf.tensor([1, 2]));
    const snap = tf.clone(v);
    v.assign(tf.tensor([9, 9]));
    expect(Array.from(snap.dataSync())).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([9, 9]);
    tf.dispose([v, snap]);
  });

  it('gradients that save their inputs (engine clones) equal the cpu backend', async () => {
    await expectSameOnWasm([spec([3, 7], 8), spec([7, 4], 9)], (a, b) =>
      tf.tidy(() => {
        const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.matMul(tf.exp(p), q)))))([a, b]);
        return tf.concat([tf.reshape(ga, [-1]), tf.reshape(gb, [-1])]);
      }),
    );
  });

  it('int32 and bool clones keep their values', () => {
    const i = tf.tensor([1, -2, 3], [3], 'int32');
    const b = tf.tensor([1, 0], [2], 'bool');
    const ci = tf.clone(i);
    const cb = tf.clone(b);
    expect(Array.from(ci.dataSync())).toEqual([1, -2, 3]);
    expect(Array.from(cb.dataSync())).toEqual([1, 0]);
    expect(ci.dtype).toBe('int32');
    tf.dispose([i, b, ci, cb]);
  });
});
