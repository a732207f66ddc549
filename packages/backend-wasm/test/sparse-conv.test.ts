import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { MASKED_CONV_KERNELS } from '@unlearnjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { SPARSE_CONV_MAX_DENSITY, sparseEnough } from '../src/simd/sparse-conv-simd.js';
import { type InputSpec, expectSameOnWasm, spec } from './helpers.js';
import { randomData } from './fixtures/random-data.js';

/** A 0/1 mask of `shape` with about `density` ones (seeded). */
function maskSpec(shape: number[], density: number, seed: number): InputSpec {
  const u = randomData(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  // randomData is symmetric around 0: |u| below a quantile keeps ~density of the entries.
  const sorted = Float32Array.from(u, Math.abs).sort();
  const cut = sorted[Math.floor(density * sorted.length)];
  return { shape, data: Float32Array.from(u, (v) => (Math.abs(v) < cut ? 1 : 0)) };
}

/** `w ⊙ mask`: a pruned filter. */
function pruned(w: InputSpec, mask: InputSpec): InputSpec {
  return { shape: w.shape, data: Float32Array.from(w.data, (v, i) => v * mask.data[i]) };
}

// [batch, size, kernel, in, out]: ResNet-18 w16's stage-3/4 shapes at batch 4, odd sizes and
// channel counts that no vector tile divides, a 1×1 and a 5×5 kernel.
const SHAPES: Array<[n: number, hw: number, k: number, cin: number, cout: number]> = [
  [4, 8, 3, 64, 64],
  [4, 4, 3, 128, 128],
  [3, 7, 3, 37, 45],
  [2, 9, 5, 24, 30],
  [2, 6, 1, 96, 80],
];

describe('sparse convolutions on wasm (pruned filters)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });
  afterAll(() => {
    unregisterWasmTrainingKernels();
  });

  it('takes the sparse path only at or below the density threshold and for large enough filters', () => {
    const n = 3 * 3 * 64 * 64;
    const at = new Float32Array(n);
    at.fill(1, 0, Math.floor(n * SPARSE_CONV_MAX_DENSITY));
    expect(sparseEnough(at)).toBe(true);
    at[Math.floor(n * SPARSE_CONV_MAX_DENSITY) + 1] = 1;
    expect(sparseEnough(at)).toBe(false);
    expect(sparseEnough(new Float32Array(9 * 3 * 4))).toBe(false); // too small to be worth a scan
  });

  it('leaves a conv padded by more than its filter size less one to the dense kernels, and still gets it right', async () => {
    const w = pruned(spec([3, 3, 64, 64], 42), maskSpec([3, 3, 64, 64], 0.05, 41));
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [3, 1],
      [0, 4],
      [0, 0],
    ];
    await expectSameOnWasm([spec([2, 6, 6, 64], 43), w], (x, f) =>
      tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad as unknown as 'valid'),
    );
    // dx with a random dy: rows of dy that a padding by more than KH − 1 puts outside the planes.
    await expectSameOnWasm([spec([2, 6, 6, 64], 44), w, spec([2, 8, 8, 64], 45)], (x, f, r) =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(v as tf.Tensor4D, f as tf.Tensor4D, 1, pad as unknown as 'valid'), r)))(x),
    );
  });

  it.each(SHAPES)('forward matches cpu: batch %i, %ipx, kernel %i (%i → %i channels), "same" and "valid"', async (n, hw, k, cin, cout) => {
    const mask = maskSpec([k, k, cin, cout], 0.05, 11);
    const w = pruned(spec([k, k, cin, cout], 12), mask);
    expect(sparseEnough(w.data as Float32Array)).toBe(k * k * cin * cout >= 4096);
    for (const pad of ['same', 'valid'] as const) {
      await expectSameOnWasm([spec([n, hw, hw, cin], 13), w], (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad));
    }
  });

  it.each(SHAPES)('input gradient matches cpu: batch %i, %ipx, kernel %i (%i → %i channels)', async (n, hw, k, cin, cout) => {
    const w = pruned(spec([k, k, cin, cout], 22), maskSpec([k, k, cin, cout], 0.03, 21));
    for (const pad of ['same', 'valid'] as const) {
      const ho = pad === 'same' ? hw : hw - k + 1;
      await expectSameOnWasm([spec([n, ho, ho, cout], 23), w], (dy, f) =>
        tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [n, hw, hw, cin], 1, pad),
      );
    }
  });

  it.each(SHAPES)('masked filter gradient = dense dW ⊙ mask: batch %i, %ipx, kernel %i (%i → %i channels)', async (n, hw, k, cin, cout) => {
    for (const density of [0.04, 0.5]) {
      const mask = maskSpec([k, k, cin, cout], density, 31);
      for (const pad of ['same', 'valid'] as const) {
        const ho = pad === 'same' ? hw : hw - k + 1;
        const attrs = { strides: [1, 1], pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [k, k, cin, cout] };
        await expectSameOnWasm(
          [spec([n, hw, hw, cin], 32), spec([n, ho, ho, cout], 33), mask],
          (x, dy, m) =>
            tf.engine().runKernel(MASKED_CONV_KERNELS.filterGradient, { x, dy, mask: m }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
          (x, dy, m) =>
            tf.mul(tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor, m),
        );
      }
    }
  });
});
