import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type Subset,
  type UnlearnData,
  createContainer,
  createMemoryLogger,
  createModel,
  crossEntropy,
  runUnlearner,
  toTensor,
} from '@unlearnjs/core';
import { describeUnlearnerContract, expectUnlearnError, modelState, registerTinyModel, createTinyUnlearnData } from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { gaOptionsSchema, gaPlugin, negativeCrossEntropy, registerGa } from '../src/index.js';

describeUnlearnerContract({
  needs: ['forget'],
  plugin: gaPlugin,
  use: [registerGa],
  validOptions: { epochs: 1, lr: 1e-3, batchSize: 8 },
  invalidOptions: [
    ['lr 0', { lr: 0 }],
    ['lr above 10', { lr: 11 }],
    ['negative epochs', { epochs: -1 }],
    ['fractional batchSize', { batchSize: 2.5 }],
    ['an unknown option', { epoch: 3 }],
  ],
});

function meanCrossEntropy(model: Model, subset: Subset): number {
  const { x, y } = toTensor(subset);
  try {
    return tf.tidy(() => crossEntropy(model.forward(x), y).dataSync()[0]);
  } finally {
    tf.dispose([x, y]);
  }
}

function unlearnData(classToForget: number): UnlearnData {
  return createTinyUnlearnData({ seed: 4, n: 120, classToForget });
}

function setup(seed = 1) {
  const container = createContainer({ seed, use: [registerTinyModel, registerGa], logger: createMemoryLogger() });
  return { container, model: createModel(container, 'tiny') };
}

describe('ga', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('has the reference defaults', () => {
    expect(gaOptionsSchema.parse({})).toMatchObject({
      epochs: 5,
      lr: 1e-4,
      batchSize: 256,
      momentum: 0.9,
      weightDecay: 5e-4,
      augment: true,
    });
  });

  it('negativeCrossEntropy is minus the cross-entropy', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [1, 2, 3],
        [0, 0, 5],
      ]);
      const labels = tf.tensor1d([0, 2], 'int32');
      const ce = crossEntropy(logits, labels).dataSync()[0];
      const neg = negativeCrossEntropy({ logits, labels, epoch: 0, model: undefined as unknown as Model }).dataSync()[0];
      expect(neg).toBeCloseTo(-ce, 6);
    });
  });

  for (const classToForget of [5, -1]) {
    it(`raises the forget loss (${classToForget < 0 ? 'random' : 'class-wise'} forgetting)`, async () => {
      const { container, model } = setup();
      try {
        const data = unlearnData(classToForget);
        const before = meanCrossEntropy(model, data.forget);
        const report = await runUnlearner(container, 'ga', { model, data, options: { epochs: 2, lr: 0.01, batchSize: 8 } });
        const after = meanCrossEntropy(model, data.forget);
        expect(after).toBeGreaterThan(before);
        expect(report.method).toBe('ga');
        expect(report.epochs).toHaveLength(2);
        // The logged loss is −CE: it falls as the forget CE rises.
        expect(report.epochs[1].loss).toBeLessThan(report.epochs[0].loss);
        expect(report.extra.forgetSize).toBe(data.forget.indices.length);
      } finally {
        model.dispose();
      }
    });
  }

  it('stops with UNLEARN_NON_FINITE_LOSS at a huge lr and leaves the model as it was', async () => {
    const { container, model } = setup();
    try {
      const before = modelState(model);
      const err = await expectUnlearnError(
        () => runUnlearner(container, 'ga', { model, data: unlearnData(5), options: { epochs: 50, lr: 10, batchSize: 4, augment: false } }),
        'UNLEARN_NON_FINITE_LOSS',
      );
      expect(err.message).toMatch(/lower the learning rate/i);
      expect(modelState(model)).toEqual(before);
    } finally {
      model.dispose();
    }
  });
});
