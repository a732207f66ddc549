import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { registerWasmTrainingKernels, setSimdConvGradients, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { expectSameOnWasm, spec } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

/** Stored shape of an operand whose logical (outer..., r, c) is transposed when `t`. */
function stored(outer: number[], r: number, c: number, t: boolean): number[] {
  return t ? [...outer, c, r] : [...outer, r, c];
}

/** Broadcasts the batch dims of `t` (its own `mine`) against `other`'s, numpy-style. */
function broadcastBatch(t: tf.Tensor, mine: number[], other: number[]): tf.Tensor {
  const rank = Math.max(mine.length, other.length);
  const pad = (d: number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
  const outer = pad(mine).map((d, i) => Math.max(d, pad(other)[i]));
  if (outer.reduce((p, q) => p * q, 1) === mine.reduce((p, q) => p * q, 1)) return t;
  return tf.broadcastTo(tf.reshape(t, [...pad(mine), ...t.shape.slice(-2)]), [...outer, ...t.shape.slice(-2)]);
}

// [outer dims of a, outer dims of b, M, K, N]
const batches: Array<[number[], number[], number, number, number]> = [
  [[], [], 7, 5, 3], // batch 1 (rank 2)
  [[1], [1], 9, 6, 4], // batch 1 (rank 3)
  // Equal batches: the batched SIMD kernel (4-row and 8-column tiles: M, N off them; N < 8),
  // or without it the stock loop (tiny products) and per-batch XNNPACK.
  [[3], [3], 5, 7, 4],
  [[5], [5], 7, 11, 15], // M mod 4 = 3, N mod 8 = 7
  [[2], [2], 6, 3, 23], // M mod 4 = 2
  [[4], [4], 20, 18, 17],
  [[2, 3], [2, 3], 17, 19, 21], // rank 4 attention-like
  [[12], [12], 65, 64, 65], // a ViT's attention products, 12 heads·images
  [[3], [1], 18, 20, 19], // broadcast b: folded into one product
  [[3], [], 6, 5, 4], // rank-3 × rank-2
  [[1], [4], 19, 20, 18], // broadcast a
  [[2, 1], [1, 3], 17, 18, 19], // general broadcast
];

describe('BatchMatMul on wasm equals the cpu backend (max rel. error < 1e-5)', () => {
  describe('equal batches without the SIMD kernels (stock loop, per-batch XNNPACK)', () => {
    beforeAll(() => setSimdConvGradients(false));
    afterAll(() => setSimdConvGradients(true));
    for (const [oa, ob, M, K, N] of batches.filter(
      ([oa, ob]) => oa.length > 0 && oa.join() === ob.join() && oa.reduce((p, q) => p * q, 1) > 1,
    )) {
      for (const [ta, tb] of [
        [false, false],
        [true, true],
      ]) {
        it(`a[${oa}] b[${ob}] M=${M} K=${K} N=${N} transposeA=${ta} transposeB=${tb}`, async () => {
          await expectSameOnWasm([spec(stored(oa, M, K, ta), 1), spec(stored(ob, K, N, tb), 2)], (a, b) => tf.matMul(a, b, ta, tb));
        });
      }
    }
  });

  for (const [oa, ob, M, K, N] of batches) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        it(`a[${oa}] b[${ob}] M=${M} K=${K} N=${N} transposeA=${ta} transposeB=${tb}`, async () => {
          await expectSameOnWasm(
            [spec(stored(oa, M, K, ta), 1), spec(stored(ob, K, N, tb), 2)],
            (a, b) => tf.matMul(a, b, ta, tb),
            // The cpu kernel broadcasts batches by index modulo, which is only right when one side
            // has a single batch; the reference broadcasts both operands explicitly first.
            (a, b) => tf.tidy(() => tf.matMul(broadcastBatch(a, oa, ob), broadcastBatch(b, ob, oa), ta, tb)),
          );
        });
      }
    }
  }

  it('gradients of a dense layer and of batched attention scores', async () => {
    const inputs = [spec([24, 8], 3), spec([8, 5], 4), spec([24, 5], 5)];
    await expectSameOnWasm(inputs, (x, w, r) =>
      tf.tidy(() => {
        const [gx, gw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.matMul(xx, ww), r)))([x, w]);
        return tf.concat([tf.reshape(gx, [-1]), tf.reshape(gw, [-1])]);
      }),
    );
    const qk = [spec([2, 3, 9, 16], 6), spec([2, 3, 9, 16], 7)];
    await expectSameOnWasm(qk, (q, k) =>
      tf.tidy(() => {
        const [gq, gk] = tf.grads((qq: tf.Tensor, kk: tf.Tensor) => tf.sum(tf.square(tf.matMul(qq, kk, false, true))))([q, k]);
        return tf.concat([tf.reshape(gq, [-1]), tf.reshape(gk, [-1])]);
      }),
    );
  });
});
