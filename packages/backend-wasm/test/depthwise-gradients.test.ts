import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { expectSameOnWasm, spec } from './helpers.js';

/**
 * A filter dilated by d equals the undilated filter with d − 1 zeros between taps. The cpu
 * backend's backprop kernels ignore `dilations` (tfjs only differentiates undilated depthwise
 * convs), so dilated cases are checked against this closed form on cpu.
 */
function zeroInsert(filter: tf.Tensor, d: number): tf.Tensor {
  const [k, , c, m] = filter.shape;
  const kE = (k - 1) * d + 1;
  const src = filter.dataSync();
  const out = new Float32Array(kE * kE * c * m);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) for (let q = 0; q < c * m; q++) out[(i * d * kE + j * d) * c * m + q] = src[(i * k + j) * c * m + q];
  return tf.tensor4d(out, [kE, kE, c, m]);
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

type Pad = 'same' | 'valid';
type Explicit = [[number, number], [number, number], [number, number], [number, number]];

/** The padding 'same' gives a dilated filter, spelled out (tfjs: floor(total / 2) before). */
function sameExplicit(h: number, w: number, kE: number, s: number): Explicit {
  const total = (size: number) => Math.max((Math.ceil(size / s) - 1) * s + kE - size, 0);
  const th = total(h);
  const tw = total(w);
  return [
    [0, 0],
    [Math.floor(th / 2), th - Math.floor(th / 2)],
    [Math.floor(tw / 2), tw - Math.floor(tw / 2)],
    [0, 0],
  ];
}
const H = 10;
const W = 9;
const C = 3;

function outSize(size: number, k: number, s: number, d: number, pad: Pad): number {
  const kE = (k - 1) * d + 1;
  return pad === 'same' ? Math.ceil(size / s) : Math.floor((size - kE) / s) + 1;
}

// [filter, stride, dilation, pad, batch, channel multiplier]; tfjs forbids stride > 1 with dilation > 1.
const cases: Array<[number, number, number, Pad, number, number]> = [];
for (const k of [1, 3, 5]) {
  for (const s of [1, 2, 3]) {
    for (const pad of ['same', 'valid'] as Pad[]) {
      cases.push([k, s, 1, pad, 1, 1], [k, s, 1, pad, 3, 2]);
    }
  }
  cases.push([k, 1, 2, 'same', 2, 1], [k, 1, 2, 'valid', 2, 2]);
}

describe('DepthwiseConv2dNativeBackpropFilter on wasm equals the cpu backend (max rel. error < 1e-5)', () => {
  it.each(cases)('k=%i s=%i d=%i pad=%s batch=%i mult=%i', async (k, s, d, pad, n, m) => {
    const oh = outSize(H, k, s, d, pad);
    const ow = outSize(W, k, s, d, pad);
    const kE = (k - 1) * d + 1;
    await expectSameOnWasm(
      [spec([n, H, W, C], 1), spec([n, oh, ow, C * m], 2)],
      (x, dy) =>
        tf.engine().runKernel(
          'DepthwiseConv2dNativeBackpropFilter',
          { x, dy },
          {
            strides: [s, s],
            dilations: [d, d],
            pad,
            filterShape: [k, k, C, m],
          },
        ) as tf.Tensor,
      (x, dy) =>
        tf.tidy(() => {
          const full = tf.engine().runKernel(
            'DepthwiseConv2dNativeBackpropFilter',
            { x, dy },
            {
              strides: [s, s],
              dilations: [1, 1],
              pad: pad === 'same' ? sameExplicit(H, W, kE, s) : pad,
              filterShape: [kE, kE, C, m],
            },
          ) as tf.Tensor;
          return tf.stridedSlice(full, [0, 0, 0, 0], full.shape, [d, d, 1, 1]);
        }),
    );
  });
});

describe('DepthwiseConv2dNativeBackpropInput on wasm equals the cpu backend (max rel. error < 1e-5)', () => {
  it.each(cases)('k=%i s=%i d=%i pad=%s batch=%i mult=%i', async (k, s, d, pad, n, m) => {
    const oh = outSize(H, k, s, d, pad);
    const ow = outSize(W, k, s, d, pad);
    const kE = (k - 1) * d + 1;
    await expectSameOnWasm(
      [spec([n, oh, ow, C * m], 3), spec([k, k, C, m], 4)],
      (dy, filter) =>
        tf.engine().runKernel(
          'DepthwiseConv2dNativeBackpropInput',
          { dy, filter },
          {
            strides: [s, s],
            dilations: [d, d],
            pad,
            inputShape: [n, H, W, C],
          },
        ) as tf.Tensor,
      (dy, filter) =>
        tf.tidy(
          () =>
            tf.engine().runKernel(
              'DepthwiseConv2dNativeBackpropInput',
              { dy, filter: zeroInsert(filter, d) },
              {
                strides: [s, s],
                dilations: [1, 1],
                pad: pad === 'same' ? sameExplicit(H, W, kE, s) : pad,
                inputShape: [n, H, W, C],
              },
            ) as tf.Tensor,
        ),
    );
  });
});

describe('tf.grad through depthwiseConv2d on wasm equals the cpu backend', () => {
  it.each([
    [3, 1, 'same'],
    [3, 2, 'same'],
    [5, 2, 'valid'],
    [1, 3, 'valid'],
  ] as Array<[number, number, Pad]>)('k=%i s=%i pad=%s', async (k, s, pad) => {
    const oh = outSize(H, k, s, 1, pad);
    const ow = outSize(W, k, s, 1, pad);
    const inputs = [spec([2, H, W, C], 5), spec([k, k, C, 2], 6), spec([2, oh, ow, C * 2], 7)];
    const loss = (x: tf.Tensor, w: tf.Tensor, r: tf.Tensor) =>
      tf.sum(tf.mul(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad), r));
    await expectSameOnWasm(inputs, (x, w, r) => tf.tidy(() => tf.grad((xx: tf.Tensor) => loss(xx, w, r))(x)));
    await expectSameOnWasm(inputs, (x, w, r) => tf.tidy(() => tf.grad((ww: tf.Tensor) => loss(x, ww, r))(w)));
  });
});
