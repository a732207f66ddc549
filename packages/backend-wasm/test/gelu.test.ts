import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, setSimdConvGradients, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { FUSED_GELU_KERNELS } from '@unlearnjs/core';
import { type InputSpec, expectSameOnWasm, randomData } from './helpers.js';

const { forward: GELU, gradient: GELU_GRAD } = FUSED_GELU_KERNELS;

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

/** The composed GELU of @unlearnjs/core: 0.5·x·(1 + erf(x/√2)). */
const composed = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

/** n values spread over [−6, 6], with a few far out (where exp(−x²/2) underflows) and zeros. */
function values(n: number, seed: number): InputSpec {
  const data = Float32Array.from(randomData(n, seed), (v) => v * 6);
  for (const [i, v] of [0, 12, -12, 40, -40, 1e-3].entries()) if (i * 7 < n) data[i * 7] = v;
  return { shape: [n], data };
}

describe('fused GELU equals the composed ops (erf) on the cpu backend', () => {
  for (const path of ['SIMD on the tfjs heap', 'scalar JS'] as const) {
    describe(path, () => {
      beforeAll(() => setSimdConvGradients(path === 'SIMD on the tfjs heap'));
      afterAll(() => setSimdConvGradients(true));
      // Lengths off the 4-lane vectors exercise the tail.
      it.each([1, 7, 64, 4101])('forward, %i values', async (n) => {
        await expectSameOnWasm([values(n, n)], (x) => tf.engine().runKernel(GELU, { x }) as tf.Tensor, composed);
      });
      it.each([3, 64, 4101])('gradient, %i values', async (n) => {
        await expectSameOnWasm(
          [values(n, n + 1), { shape: [n], data: randomData(n, n + 2) }],
          (x, dy) => tf.engine().runKernel(GELU_GRAD, { dy, x }) as tf.Tensor,
          (x, dy) => tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(composed(xx), dy)))(x)),
        );
      });
    });
  }

  it('every element is within 1e-6·(1 + |x|) of the composed ops (both use A&S 7.1.26 for erf)', async () => {
    const n = 4099;
    const { data } = values(n, 5);
    const dyData = randomData(n, 6);
    const run = async (backend: string, f: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor[]) => {
      await tf.setBackend(backend);
      const x = tf.tensor1d(data);
      const dy = tf.tensor1d(dyData);
      const out = f(x, dy);
      const v = await Promise.all(out.map((t) => t.data()));
      tf.dispose([x, dy, ...out]);
      return v;
    };
    const want = await run('cpu', (x, dy) => [composed(x), tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(composed(xx), dy)))(x))]);
    const got = await run('wasm', (x, dy) => [
      tf.engine().runKernel(GELU, { x }) as tf.Tensor,
      tf.engine().runKernel(GELU_GRAD, { dy, x }) as tf.Tensor,
    ]);
    for (let i = 0; i < n; i++) {
      expect(Math.abs(got[0][i] - want[0][i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(data[i])));
      expect(Math.abs(got[1][i] - want[1][i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(data[i])) * Math.abs(dyData[i]) + 1e-7);
    }
  });

  it('is exact at the closed-form points: GELU(0) = 0, GELU′(0) = 1/2, GELU(x) → x and GELU′(x) → 1 for large x', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([0, 30, -30]);
    const y = tf.engine().runKernel(GELU, { x }) as tf.Tensor;
    const d = tf.engine().runKernel(GELU_GRAD, { dy: tf.onesLike(x), x }) as tf.Tensor;
    const yv = await y.data();
    expect([yv[0], yv[1]]).toEqual([0, 30]);
    expect(Math.abs(yv[2])).toBeLessThan(1e-30); // −30·Φ(−30) ≈ −1e−197: float32 zero, or a denormal
    const dv = await d.data();
    expect(dv[0]).toBeCloseTo(0.5, 7);
    expect(dv[1]).toBeCloseTo(1, 7);
    expect(dv[2]).toBeCloseTo(0, 7);
    tf.dispose([x, y, d]);
  });
});
