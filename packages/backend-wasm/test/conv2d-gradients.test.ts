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

type Pad = 'same' | 'valid';
const cases: Array<[number, number, Pad, number]> = [];
for (const k of [1, 3, 5])
  for (const s of [1, 2, 3]) for (const pad of ['same', 'valid'] as Pad[]) for (const n of [1, 3]) cases.push([k, s, pad, n]);

// Odd, non-square spatial sizes so that 'valid' windows leave rows unread and 'same' pads unevenly.
const H = 11;
const W = 9;
const CIN = 3;
const COUT = 4;

function outSize(size: number, k: number, s: number, pad: Pad): number {
  return pad === 'same' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
}

describe('Conv2DBackpropFilter on wasm equals the cpu backend (max rel. error < 1e-5)', () => {
  it.each(cases)('k=%i s=%i pad=%s batch=%i', async (k, s, pad, n) => {
    const oh = outSize(H, k, s, pad);
    const ow = outSize(W, k, s, pad);
    await expectSameOnWasm(
      [spec([n, H, W, CIN], 1), spec([n, oh, ow, COUT], 2)],
      (x, dy) =>
        tf.engine().runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          {
            strides: [s, s],
            pad,
            dataFormat: 'NHWC',
            filterShape: [k, k, CIN, COUT],
          },
        ) as tf.Tensor,
    );
  });

  it('handles explicit padding and NCHW input', async () => {
    const pad = [
      [0, 0],
      [2, 1],
      [0, 3],
      [0, 0],
    ] as [[number, number], [number, number], [number, number], [number, number]];
    const oh = Math.floor((H + 3 - 3) / 2) + 1;
    const ow = Math.floor((W + 3 - 3) / 2) + 1;
    await expectSameOnWasm(
      [spec([2, H, W, CIN], 3), spec([2, oh, ow, COUT], 4)],
      (x, dy) =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy },
            { strides: [2, 2], pad, dataFormat: 'NHWC', filterShape: [3, 3, CIN, COUT] },
          ) as tf.Tensor,
    );
    // NCHW (transposed in and computed as NHWC on wasm).
    await expectSameOnWasm([spec([2, H, W, CIN], 5), spec([2, 6, 5, COUT], 6)], (x, dy) =>
      tf.tidy(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.transpose(x, [0, 3, 1, 2]), dy: tf.transpose(dy, [0, 3, 1, 2]) },
              { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, CIN, COUT] },
            ) as tf.Tensor,
      ),
    );
  });
});

describe('Conv2DBackpropInput on wasm equals the cpu backend (max rel. error < 1e-5)', () => {
  it.each(cases)('k=%i s=%i pad=%s batch=%i', async (k, s, pad, n) => {
    const oh = outSize(H, k, s, pad);
    const ow = outSize(W, k, s, pad);
    await expectSameOnWasm(
      [spec([n, oh, ow, COUT], 7), spec([k, k, CIN, COUT], 8)],
      (dy, filter) =>
        tf.engine().runKernel(
          'Conv2DBackpropInput',
          { dy, filter },
          {
            strides: [s, s],
            pad,
            dataFormat: 'NHWC',
            inputShape: [n, H, W, CIN],
          },
        ) as tf.Tensor,
    );
  });
});

describe('tf.grad through conv2d on wasm equals the cpu backend', () => {
  it.each(cases.filter(([, , , n]) => n === 3))('d/dx and d/dw of sum(conv2d(x,w)·r), k=%i s=%i pad=%s', async (k, s, pad) => {
    const oh = outSize(H, k, s, pad);
    const ow = outSize(W, k, s, pad);
    const inputs = [spec([2, H, W, CIN], 9), spec([k, k, CIN, COUT], 10), spec([2, oh, ow, COUT], 11)];
    const loss = (r: tf.Tensor) => (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad), r));
    await expectSameOnWasm(inputs, (x, w, r) => tf.tidy(() => tf.grad((xx: tf.Tensor) => loss(r)(xx, w))(x)));
    await expectSameOnWasm(inputs, (x, w, r) => tf.tidy(() => tf.grad((ww: tf.Tensor) => loss(r)(x, ww))(w)));
  });

  it('matches a finite difference of the loss (wasm alone)', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(spec([1, 7, 7, 2], 12).data, [1, 7, 7, 2]);
    const w = tf.tensor4d(spec([3, 3, 2, 2], 13).data, [3, 3, 2, 2]);
    const f = (ww: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, ww as tf.Tensor4D, 2, 'same')));
    const g = tf.grad(f)(w);
    const gv = await g.data();
    const wv = await w.data();
    const eps = 1e-2;
    for (const idx of [0, 7, 20, 35]) {
      const plus = Float32Array.from(wv);
      plus[idx] += eps;
      const minus = Float32Array.from(wv);
      minus[idx] -= eps;
      const fp = tf.tidy(() => f(tf.tensor4d(plus, [3, 3, 2, 2])).dataSync()[0]);
      const fm = tf.tidy(() => f(tf.tensor4d(minus, [3, 3, 2, 2])).dataSync()[0]);
      expect(Math.abs((fp - fm) / (2 * eps) - gv[idx])).toBeLessThan(2e-2 * Math.max(1, Math.abs(gv[idx])));
    }
    tf.dispose([x, w, g]);
  });
});
