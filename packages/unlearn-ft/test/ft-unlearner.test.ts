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
import { describeUnlearnerContract, expectUnlearnError, registerTinyModel, createTinyUnlearnData } from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { ftOptionsSchema, ftPlugin, registerFt } from '../src/index.js';

describeUnlearnerContract({
  needs: ['retain'],
  plugin: ftPlugin,
  use: [registerFt],
  validOptions: { epochs: 1, batchSize: 32 },
  invalidOptions: [
    ['lr 0', { lr: 0 }],
    ['a negative lr', { lr: -0.1 }],
    ['negative epochs', { epochs: -1 }],
    ['fractional epochs', { epochs: 1.5 }],
    ['batchSize 0', { batchSize: 0 }],
    ['an unknown option', { learningRate: 0.1 }],
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
  return createTinyUnlearnData({ seed: 3, n: 120, classToForget });
}

describe('ft', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('has the reference defaults', () => {
    expect(ftOptionsSchema.parse({})).toEqual({
      epochs: 10,
      lr: 0.01,
      batchSize: 256,
      momentum: 0.9,
      weightDecay: 5e-4,
      augment: true,
      evalEvery: 0,
    });
  });

  it('names the field and its range in validation errors', async () => {
    const container = createContainer({ seed: 0, use: [registerTinyModel, registerFt], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny');
    try {
      const err = await expectUnlearnError(
        () => runUnlearner(container, 'ft', { model, data: unlearnData(0), options: { lr: -1 } }),
        'UNLEARN_INVALID_OPTIONS',
      );
      expect(err.message).toContain('lr');
      expect(err.message).toContain('> 0');
    } finally {
      model.dispose();
    }
  });

  for (const classToForget of [2, -1]) {
    it(`lowers the retain loss (${classToForget < 0 ? 'random' : 'class-wise'} forgetting)`, async () => {
      const container = createContainer({ seed: 1, use: [registerTinyModel, registerFt], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      try {
        const data = unlearnData(classToForget);
        const before = meanCrossEntropy(model, data.retain);
        const report = await runUnlearner(container, 'ft', { model, data, options: { epochs: 3, lr: 0.05, batchSize: 16 } });
        const after = meanCrossEntropy(model, data.retain);
        expect(after).toBeLessThan(before);
        expect(report.method).toBe('ft');
        expect(report.epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
        expect(report.epochs.every((e) => e.lr === 0.05)).toBe(true);
        expect(report.extra.retainSize).toBe(data.retain.indices.length);
      } finally {
        model.dispose();
      }
    });
  }

  it('reports progress per epoch and stops with UNLEARN_ABORTED on abort', async () => {
    const labels: string[] = [];
    const controller = new AbortController();
    const progress = {
      start: (label: string) => {
        labels.push(label);
        return { tick: () => controller.abort(new Error('stop')), end: () => {} };
      },
    };
    const container = createContainer({
      seed: 0,
      use: [registerTinyModel, registerFt],
      logger: createMemoryLogger(),
      progress,
      signal: controller.signal,
    });
    const model = createModel(container, 'tiny');
    try {
      await expectUnlearnError(
        () => runUnlearner(container, 'ft', { model, data: unlearnData(0), options: { epochs: 2, batchSize: 16 } }),
        'UNLEARN_ABORTED',
      );
      expect(labels).toEqual(['ft epoch 1/2']);
    } finally {
      model.dispose();
    }
  });
});
