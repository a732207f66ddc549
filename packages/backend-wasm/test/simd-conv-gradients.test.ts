import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  loadSimdKernels,
  registerWasmTrainingKernels,
  setSimdThreads,
  setSimdConvGradients,
  simdKernelsStatus,
  unregisterWasmTrainingKernels,
} from '@unlearnjs/backend-wasm';
import { expectSameOnWasm, relativeError, spec } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});
afterEach(() => setSimdConvGradients(true));

type Pad = 'same' | 'valid';

/**
 * [batch, H, W, Cin, Cout, k, stride, pad]: channel counts on and off the 4×8 tile, several tiles,
 * odd sizes, 4×4 maps (dW always takes the SIMD path, dx from 32 channels or a stride).
 */
const shapes: Array<[number, number, number, number, number, number, number, Pad]> = [
  [2, 9, 16, 8, 16, 3, 1, 'same'],
  [3, 10, 17, 12, 24, 3, 2, 'same'],
  [2, 11, 19, 5, 13, 3, 2, 'valid'],
  [2, 8, 16, 16, 8, 1, 2, 'same'],
  [1, 13, 25, 4, 8, 5, 3, 'same'],
  [4, 6, 10, 32, 40, 3, 1, 'valid'],
  [2, 12, 32, 3, 16, 4, 4, 'same'],
  [3, 4, 4, 16, 24, 3, 1, 'same'],
  [2, 8, 8, 40, 16, 3, 2, 'same'],
];

const BUILDS = [
  { file: 'simd-kernels-relaxed.wasm', fusedMultiplyAdd: true },
  { file: 'simd-kernels.wasm', fusedMultiplyAdd: false },
];

function outSize(size: number, k: number, s: number, pad: Pad): number {
  return pad === 'same' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
}

describe('the SIMD kernels', () => {
  it('are built and loaded, with fused multiply-adds on this Node (pnpm install runs build:simd)', () => {
    expect(simdKernelsStatus()).toMatchObject({ available: true, fusedMultiplyAdd: true });
  });
});

describe('the SIMD kernels on 2 threads (shared memory, one worker)', () => {
  afterAll(() => setSimdThreads(1));

  it('give bit-identical results to 1 thread for every kernel form', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(spec([3, 12, 12, 36], 41).data, [3, 12, 12, 36]);
    const dy1 = tf.tensor4d(spec([3, 12, 12, 40], 42).data, [3, 12, 12, 40]);
    const dy2 = tf.tensor4d(spec([3, 6, 6, 40], 43).data, [3, 6, 6, 40]);
    const w = tf.tensor4d(spec([3, 3, 36, 40], 44).data, [3, 3, 36, 40]);
    const a = tf.tensor2d(spec([1000, 70], 45).data, [1000, 70]);
    const b = tf.tensor2d(spec([70, 60], 46).data, [70, 60]);
    const c = tf.tensor2d(spec([1000, 60], 47).data, [1000, 60]);
    const big = tf.tensor4d(spec([16, 32, 32, 68], 48).data, [16, 32, 32, 68]);
    const wx = tf.tensor4d(spec([8, 16, 16, 64], 49).data, [8, 16, 16, 64]);
    const ww = tf.tensor4d(spec([3, 3, 64, 64], 50).data, [3, 3, 64, 64]);
    const wx2 = tf.tensor4d(spec([32, 8, 8, 128], 51).data, [32, 8, 8, 128]);
    const conv = { dataFormat: 'NHWC', pad: 'same' };
    const forms = (): tf.Tensor[] => [
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dy1 }, { ...conv, strides: [1, 1], filterShape: [3, 3, 36, 40] }) as tf.Tensor,
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dy2 }, { ...conv, strides: [2, 2], filterShape: [3, 3, 36, 40] }) as tf.Tensor,
      tf
        .engine()
        .runKernel('Conv2DBackpropInput', { dy: dy1, filter: w }, { ...conv, strides: [1, 1], inputShape: [3, 12, 12, 36] }) as tf.Tensor,
      tf
        .engine()
        .runKernel('Conv2DBackpropInput', { dy: dy2, filter: w }, { ...conv, strides: [2, 2], inputShape: [3, 12, 12, 36] }) as tf.Tensor,
      tf.conv2d(x, w, 1, 'same'),
      tf.matMul(a, b),
      tf.matMul(a, c, true, false),
      tf.sum(big, [0, 1, 2]),
      tf.conv2d(wx, ww, 1, 'same'), // Winograd
      // Winograd dW (on 2 threads only from 128 channels, so both runs take it here)
      tf
        .engine()
        .runKernel('Conv2DBackpropFilter', { x: wx2, dy: wx2 }, { ...conv, strides: [1, 1], filterShape: [3, 3, 128, 128] }) as tf.Tensor,
    ];
    const one = forms();
    setSimdThreads(2);
    const two = forms();
    expect(simdKernelsStatus()).toMatchObject({ available: true, threads: 2 });
    // Exactly equal (relative error 0); compared as one number so a failure reports fast.
    for (let i = 0; i < one.length; i++) expect(relativeError(await two[i].data(), await one[i].data())).toBe(0);
    tf.dispose([x, dy1, dy2, w, a, b, c, big, wx, ww, wx2, ...one, ...two]);
  });
});

describe.each(BUILDS)('the SIMD kernels of $file', ({ file, fusedMultiplyAdd }) => {
  beforeAll(() => {
    simdKernelsStatus(); // the default load turns on relaxed SIMD where Node needs a flag
    loadSimdKernels(readFileSync(new URL(`../build/${file}`, import.meta.url)), { fusedMultiplyAdd });
  });

  it.each(shapes)('dW equals the cpu backend: n=%i %ix%i %i→%i k=%i s=%i %s', async (n, h, w, cin, cout, k, s, pad) => {
    const inputs = [spec([n, h, w, cin], 21), spec([n, outSize(h, k, s, pad), outSize(w, k, s, pad), cout], 22)];
    const err = await expectSameOnWasm(
      inputs,
      (x, dy) =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy },
            { strides: [s, s], pad, dataFormat: 'NHWC', filterShape: [k, k, cin, cout] },
          ) as tf.Tensor,
      undefined,
      2e-6,
    );
    expect(err).toBeLessThan(2e-6);
  });

  it.each(shapes)('dx equals the cpu backend: n=%i %ix%i %i→%i k=%i s=%i %s', async (n, h, w, cin, cout, k, s, pad) => {
    const inputs = [spec([n, outSize(h, k, s, pad), outSize(w, k, s, pad), cout], 23), spec([k, k, cin, cout], 24)];
    await expectSameOnWasm(
      inputs,
      (dy, filter) =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy, filter },
            { strides: [s, s], pad, dataFormat: 'NHWC', inputShape: [n, h, w, cin] },
          ) as tf.Tensor,
      undefined,
      2e-6,
    );
  });

  // [batch, H, W, Cin, Cout, k, pad, dilation]: stride-1 forward convs (Cin ≥ 32, so the SIMD
  // kernel runs them where it has fused multiply-adds).
  it.each([
    [2, 9, 11, 32, 16, 3, 'same', 1],
    [3, 8, 8, 40, 13, 3, 'valid', 1],
    [2, 10, 9, 33, 24, 5, 'same', 1],
    [1, 12, 12, 32, 8, 3, 'same', 2],
    [2, 6, 7, 64, 70, 1, 'valid', 1],
  ] as Array<[number, number, number, number, number, number, Pad, number]>)(
    'forward conv equals the cpu backend: n=%i %ix%i %i→%i k=%i %s dilation %i',
    async (n, h, w, cin, cout, k, pad, d) => {
      await expectSameOnWasm(
        [spec([n, h, w, cin], 33), spec([k, k, cin, cout], 34)],
        (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad, 'NHWC', d),
        undefined,
        2e-6,
      );
    },
  );

  it.each([
    [
      [64, 32, 32, 16],
      [0, 1, 2],
    ],
    [
      [20, 65, 192],
      [0, 1],
    ],
    [
      [300, 300, 3],
      [0, 1],
    ],
  ] as Array<[number[], number[]]>)('Sum and Mean of %j over leading axes %j equal the cpu backend', async (shape, axes) => {
    await expectSameOnWasm([spec(shape, 35)], (x) => tf.sum(x, axes), undefined, 2e-6);
    await expectSameOnWasm([spec(shape, 36)], (x) => tf.mean(x, axes, true), undefined, 2e-6);
  });

  // Winograd shapes (with FMA): 3×3 stride 1, maps ≥ 8, ≥ 64 channels, ≥ 512 2×2 tiles; odd
  // sizes leave half tiles at the edges, 'valid' pads the dx by 2.
  // Winograd needs fused multiply-adds: the baseline build runs the direct kernels (tested above).
  it.skipIf(!fusedMultiplyAdd).each([
    [8, 16, 16, 64, 72, 'same'],
    [4, 27, 26, 65, 64, 'valid'],
    [9, 15, 15, 64, 64, 'same'],
  ] as Array<[number, number, number, number, number, Pad]>)(
    'Winograd-sized conv, dx and dW equal the cpu backend: n=%i %ix%i %i→%i %s',
    async (n, h, w, cin, cout, pad) => {
      await expectSameOnWasm(
        [spec([n, h, w, cin], 37), spec([3, 3, cin, cout], 38)],
        (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad),
        undefined,
        5e-6,
      );
      const oh = pad === 'same' ? h : h - 2;
      const ow = pad === 'same' ? w : w - 2;
      await expectSameOnWasm(
        [spec([n, h, w, cin], 41), spec([n, oh, ow, cout], 42)],
        (x, dy) =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x, dy },
              { strides: [1, 1], pad, dataFormat: 'NHWC', filterShape: [3, 3, cin, cout] },
            ) as tf.Tensor,
        undefined,
        5e-6,
      );
      await expectSameOnWasm(
        [spec([n, oh, ow, cout], 39), spec([3, 3, cin, cout], 40)],
        (dy, f) =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropInput',
              { dy, filter: f },
              { strides: [1, 1], pad, dataFormat: 'NHWC', inputShape: [n, h, w, cin] },
            ) as tf.Tensor,
        undefined,
        5e-6,
      );
    },
  );

  // [a shape, b shape, transposeA, transposeB]: every form with one right-hand matrix, sizes off
  // the 4×8 tile, ≥ 2^20 multiply-adds so the SIMD path is taken.
  it.each([
    [[301, 70], [70, 53], false, false],
    [[3, 101, 70], [70, 53], false, false],
    [[3, 101, 70], [1, 53, 70], false, true],
    [[1030, 37], [1030, 45], true, false],
    [[1, 2100, 29], [2100, 19], true, false],
  ] as Array<[number[], number[], boolean, boolean]>)('matMul %j · %j (tA=%s, tB=%s) equals the cpu backend', async (sa, sb, ta, tb) => {
    await expectSameOnWasm([spec(sa, 31), spec(sb, 32)], (a, b) => tf.matMul(a, b, ta, tb), undefined, 2e-6);
  });

  it('give the same gradients as the XNNPACK formulations they replace', async () => {
    const x = tf.tensor4d(spec([8, 16, 16, 16], 25).data, [8, 16, 16, 16]);
    const w = tf.tensor4d(spec([3, 3, 16, 32], 26).data, [3, 3, 16, 32]);
    const r = tf.tensor4d(spec([8, 8, 8, 32], 27).data, [8, 8, 8, 32]);
    const grads = () =>
      tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 2, 'same'), r)))([x, w]);
    const [dxSimd, dwSimd] = grads();
    setSimdConvGradients(false);
    const [dxXnn, dwXnn] = grads();
    expect(relativeError(await dxSimd.data(), await dxXnn.data())).toBeLessThan(2e-6);
    expect(relativeError(await dwSimd.data(), await dwXnn.data())).toBeLessThan(2e-6);
    tf.dispose([x, w, r, dxSimd, dwSimd, dxXnn, dwXnn]);
  });
});
