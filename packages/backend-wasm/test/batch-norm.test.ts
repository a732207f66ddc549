import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  registerWasmTrainingKernels,
  setSimdConvGradients,
  simdKernelsStatus,
  unregisterWasmTrainingKernels,
} from '@unlearnjs/backend-wasm';
import {
  FUSED_BATCH_NORM_GRAD_KERNEL as BATCH_NORM_TRAIN_GRAD,
  FUSED_BATCH_NORM_INFER_KERNEL as BATCH_NORM_INFER,
  FUSED_BATCH_NORM_KERNEL as BATCH_NORM_TRAIN,
} from '@unlearnjs/core';
import { type InputSpec, expectSameOnWasm, spec } from './helpers.js';

const EPSILON = 1e-5;

let registered: string[] = [];
beforeAll(async () => {
  await tf.setBackend('wasm');
  registered = registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

/** The composed formula: act((x − mean)·γ/√(var + ε) + β + r), statistics over all but the last axis. */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, residual: tf.Tensor | undefined, relu: boolean) {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const mean = tf.mean(x, axes);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), axes);
  let y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPSILON))), gamma), beta);
  if (residual !== undefined) y = tf.add(y, residual);
  return { y: relu ? tf.relu(y) : y, mean, variance };
}

const flat = (ts: tf.Tensor[]) => tf.concat(ts.map((t) => tf.reshape(t, [-1])));

/** Forward outputs [y, mean, variance] of the fused kernel, flattened into one tensor. */
function fusedForward(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, residual: tf.Tensor | undefined, relu: boolean) {
  return tf.tidy(() => {
    const inputs: tf.NamedTensorMap = residual === undefined ? { x, gamma, beta } : { x, gamma, beta, residual };
    return flat(tf.engine().runKernel(BATCH_NORM_TRAIN, inputs, { epsilon: EPSILON, relu } as unknown as tf.NamedAttrMap) as tf.Tensor[]);
  });
}

/** Gradients [dx, dγ, dβ, (dr)] of Σ probe·y from the fused kernels, flattened into one tensor. */
function fusedGrads(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, residual: tf.Tensor | undefined, relu: boolean, probe: tf.Tensor) {
  return tf.tidy(() => {
    const inputs: tf.NamedTensorMap = residual === undefined ? { x, gamma, beta } : { x, gamma, beta, residual };
    const attrs = { epsilon: EPSILON, relu } as unknown as tf.NamedAttrMap;
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN, inputs, attrs) as tf.Tensor[];
    const gradAttrs = { epsilon: EPSILON, relu, residual: residual !== undefined } as unknown as tf.NamedAttrMap;
    return flat(tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, { dy: probe, x, y, gamma, mean, variance }, gradAttrs) as tf.Tensor[]);
  });
}

/** The same gradients, taped through the composed formula. */
function referenceGrads(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, residual: tf.Tensor | undefined, relu: boolean, probe: tf.Tensor) {
  return tf.tidy(() => {
    const args = residual === undefined ? [x, gamma, beta] : [x, gamma, beta, residual];
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(reference(a[0], a[1], a[2], a[3], relu).y, probe)))(args);
    return flat(grads);
  });
}

/** x with a different mean and spread per channel (as a conv output), γ, β, residual, probe. */
function inputs(shape: number[], seed: number): InputSpec[] {
  const C = shape[shape.length - 1];
  const x = spec(shape, seed);
  for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i] * (1 + (i % C)) + 3 - (i % C);
  const gamma = spec([C], seed + 1);
  for (let i = 0; i < C; i++) gamma.data[i] += i % 2 === 0 ? 1.5 : -1.5;
  return [x, gamma, spec([C], seed + 2), spec(shape, seed + 3), spec(shape, seed + 4)];
}

// Channel counts off the 4-lane vectors (5, 6), rows below, at and past the 64-row sum blocks.
const cases: Array<[number[], boolean, boolean]> = [
  [[2, 5, 3, 6], false, false],
  [[3, 4, 4, 16], true, true],
  [[1, 7, 9, 8], false, true],
  [[4, 9, 9, 12], true, false],
  [[2, 8, 8, 5], true, true],
  [[8, 16, 16, 32], true, true],
];

describe('fused training BatchNorm (+ residual, ReLU) equals the composed ops on the cpu backend', () => {
  it('is registered by default where the SIMD kernels load', () => {
    expect(simdKernelsStatus().available).toBe(true);
    expect(registered).toEqual(expect.arrayContaining([BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, BATCH_NORM_INFER]));
  });

  for (const path of ['SIMD on the tfjs heap', 'scalar JS'] as const) {
    describe(path, () => {
      beforeAll(() => setSimdConvGradients(path === 'SIMD on the tfjs heap'));
      afterAll(() => setSimdConvGradients(true));

      it.each(cases)('forward %j, residual %s, relu %s: y, mean, variance', async (shape, withResidual, relu) => {
        await expectSameOnWasm(
          inputs(shape, 11),
          (x, g, b, r) => fusedForward(x, g, b, withResidual ? r : undefined, relu),
          (x, g, b, r) =>
            tf.tidy(() => {
              const o = reference(x, g, b, withResidual ? r : undefined, relu);
              return flat([o.y, o.mean, o.variance]);
            }),
        );
      });

      it.each(cases)('eval mode %j, residual %s, relu %s: y from given statistics', async (shape, withResidual, relu) => {
        const [x, g, b, r, stats] = inputs(shape, 41);
        const C = shape[shape.length - 1];
        const mean = { shape: [C], data: stats.data.slice(0, C) };
        const variance = { shape: [C], data: Float32Array.from(stats.data.slice(C, 2 * C), (v) => v * v + 0.1) };
        await expectSameOnWasm(
          [x, g, b, r, mean, variance],
          (xx, gg, bb, rr, m, v) => {
            const common = { x: xx, gamma: gg, beta: bb, mean: m, variance: v };
            const named = withResidual ? { ...common, residual: rr } : common;
            return tf.engine().runKernel(BATCH_NORM_INFER, named, { epsilon: EPSILON, relu } as unknown as tf.NamedAttrMap) as tf.Tensor;
          },
          (xx, gg, bb, rr, m, v) =>
            tf.tidy(() => {
              let y = tf.add(tf.mul(tf.div(tf.sub(xx, m), tf.sqrt(tf.add(v, EPSILON))), gg), bb);
              if (withResidual) y = tf.add(y, rr);
              return relu ? tf.relu(y) : y;
            }),
        );
      });

      it.each(cases)('backward %j, residual %s, relu %s: dx, dγ, dβ, dr', async (shape, withResidual, relu) => {
        await expectSameOnWasm(
          inputs(shape, 21),
          (x, g, b, r, p) => fusedGrads(x, g, b, withResidual ? r : undefined, relu, p),
          (x, g, b, r, p) => referenceGrads(x, g, b, withResidual ? r : undefined, relu, p),
        );
      });
    });
  }

  it('ReLU passes no gradient where the output is 0, and the residual gets dy through the ReLU', async () => {
    await tf.setBackend('wasm');
    const [x, g, b, r, p] = inputs([2, 6, 6, 8], 31).map((s) => tf.tensor(s.data, s.shape));
    const before = tf.memory().numTensors;
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN, { x, gamma: g, beta: b, residual: r }, {
      epsilon: EPSILON,
      relu: true,
    } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    const grads = tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, { dy: p, x, y, gamma: g, mean, variance }, {
      epsilon: EPSILON,
      relu: true,
      residual: true,
    } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    expect(grads).toHaveLength(4);
    const yv = y.dataSync();
    const pv = p.dataSync();
    const dr = grads[3].dataSync();
    let zeros = 0;
    for (let i = 0; i < yv.length; i++) {
      expect(yv[i]).toBeGreaterThanOrEqual(0);
      if (yv[i] === 0) zeros++;
      expect(dr[i]).toBe(yv[i] > 0 ? pv[i] : 0);
    }
    expect(zeros).toBeGreaterThan(0);
    tf.dispose([y, mean, variance, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g, b, r, p]);
  });
});
