import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type UnlearnData, createContainer, createMemoryLogger, createModel, runUnlearner } from '@unlearnjs/core';
import {
  describeUnlearnerContract,
  expectNoTensorLeak,
  expectUnlearnError,
  modelState,
  registerTinyModel,
  setRandomMasks,
  createTinyUnlearnData,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { l1Alpha, l1AlphaSchedule, l1Norm, l1SparseOptionsSchema, l1SparsePlugin, registerL1Sparse } from '../src/index.js';

describeUnlearnerContract({
  needs: ['retain'],
  plugin: l1SparsePlugin,
  use: [registerL1Sparse],
  validOptions: { epochs: 2, batchSize: 32, alpha: 1e-3, noL1Epochs: 1 },
  invalidOptions: [
    ['lr 0', { lr: 0 }],
    ['a negative alpha', { alpha: -1e-3 }],
    ['noL1Epochs equal to epochs', { epochs: 3, noL1Epochs: 3 }],
    ['a negative noL1Epochs', { noL1Epochs: -1 }],
    ['negative epochs', { epochs: -1 }],
    ['batchSize 0', { batchSize: 0 }],
    ['an unknown option', { gamma: 0.1 }],
  ],
});

function unlearnData(classToForget: number): UnlearnData {
  return createTinyUnlearnData({ seed: 7, n: 120, classToForget });
}

describe('l1Alpha', () => {
  it('decays linearly from alpha and reaches 0 at epoch E - noL1Epochs', () => {
    const alpha = 0.3;
    const E = 10;
    const noL1 = 4;
    const decay = E - noL1;
    for (let t = 0; t < E; t++) {
      const expected = t < decay ? alpha * (1 - t / decay) : 0;
      expect(l1Alpha(alpha, t, E, noL1)).toBeCloseTo(expected, 12);
    }
    expect(l1Alpha(alpha, 0, E, noL1)).toBe(alpha);
    expect(l1Alpha(alpha, decay - 1, E, noL1)).toBeGreaterThan(0);
    expect(l1Alpha(alpha, decay, E, noL1)).toBe(0);
    // Constant steps while it decays.
    const s = l1AlphaSchedule(alpha, E, noL1);
    for (let t = 1; t < decay; t++) expect(s[t - 1] - s[t]).toBeCloseTo(alpha / decay, 12);
  });

  it('with noL1Epochs = 0 keeps alpha/E in the last epoch (0 would be epoch E)', () => {
    expect(l1AlphaSchedule(1, 4, 0)).toEqual([1, 0.75, 0.5, 0.25]);
    expect(l1Alpha(1, 4, 4, 0)).toBe(0);
  });

  it('rejects noL1Epochs >= epochs', async () => {
    await expectUnlearnError(() => l1Alpha(1, 0, 3, 3), 'UNLEARN_INVALID_OPTIONS');
    const r = l1SparseOptionsSchema.safeParse({ epochs: 3, noL1Epochs: 5 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual(['noL1Epochs']);
    expect(r.error?.issues[0].message).toContain('epochs - 1');
  });
});

describe('l1-sparse', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('l1Norm is the sum of absolute values', async () => {
    await expectNoTensorLeak(() => {
      const a = tf.tensor1d([1, -2, 0]);
      const b = tf.tensor2d([[-0.5, 0.25]]);
      const n = l1Norm([a, b]);
      expect(n.dataSync()[0]).toBeCloseTo(3.75, 6);
      tf.dispose([a, b, n]);
    });
  });

  it('l1Norm has gradient sign(θ), 0 at θ = 0', () => {
    tf.tidy(() => {
      const x = tf.tensor1d([1.5, -2, 0, 0.25]);
      const g = tf.grad((t: tf.Tensor) => l1Norm([t]))(x);
      expect(Array.from(g.dataSync())).toEqual([1, -1, 0, 1]);
    });
  });

  it('adds exactly lr·alpha·sign(θ) to one SGD step (no momentum, no weight decay)', async () => {
    const lr = 0.1;
    const alpha = 0.05;
    const data = unlearnData(0);
    const options = { epochs: 1, lr, batchSize: 1024, momentum: 0, weightDecay: 0, augment: false, noL1Epochs: 0 };
    async function step(a: number) {
      // Same container seed and same initial weights (and masks) for both runs: only alpha differs.
      const container = createContainer({ seed: 3, use: [registerTinyModel, registerL1Sparse], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      try {
        setRandomMasks(model, new Rng(9));
        const before = modelState(model).params;
        const report = await runUnlearner(container, 'l1-sparse', { model, data, options: { ...options, alpha: a } });
        return { before, after: modelState(model).params, report };
      } finally {
        model.dispose();
      }
    }
    const withL1 = await step(alpha);
    const without = await step(0);
    expect(withL1.report.extra.alphas).toEqual([alpha]);
    let nonZero = 0;
    for (const [name, theta0] of Object.entries(withL1.before)) {
      expect(without.before[name]).toEqual(theta0);
      const a = withL1.after[name];
      const b = without.after[name];
      for (let i = 0; i < theta0.length; i++) {
        // θ1(α) − θ1(0) = −lr·α·sign(θ0): sign(0) = 0, so pruned (zero) weights get no push.
        expect(a[i] - b[i]).toBeCloseTo(-lr * alpha * Math.sign(theta0[i]), 5);
        if (theta0[i] !== 0) nonZero++;
      }
    }
    expect(nonZero).toBeGreaterThan(100);
  });

  for (const classToForget of [4, -1]) {
    it(`reports the alpha schedule and shrinks the L1 norm (${classToForget < 0 ? 'random' : 'class-wise'} forgetting)`, async () => {
      const container = createContainer({ seed: 1, use: [registerTinyModel, registerL1Sparse], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      try {
        const options = { epochs: 3, noL1Epochs: 1, alpha: 0.01, batchSize: 16 };
        const report = await runUnlearner(container, 'l1-sparse', { model, data: unlearnData(classToForget), options });
        expect(report.extra.alphas).toEqual(l1AlphaSchedule(0.01, 3, 1));
        expect(report.extra.alphas).toEqual([0.01, 0.005, 0]);
        expect(report.epochs).toHaveLength(3);
        expect(report.extra.l1NormAfter as number).toBeLessThan(report.extra.l1NormBefore as number);
      } finally {
        model.dispose();
      }
    });
  }
});
