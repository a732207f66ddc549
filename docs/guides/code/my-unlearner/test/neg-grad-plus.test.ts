// docs/guides/code/my-unlearner/test/neg-grad-plus.test.ts
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type Subset,
  createContainer,
  createMemoryLogger,
  createModel,
  crossEntropy,
  runUnlearner,
  toTensor,
} from '@unlearnjs/core';
import { createTinySplits, describeUnlearnerContract, registerTinyModel } from '@unlearnjs/testing';
import { expect, it } from 'vitest';
import { negGradPlusPlugin, registerNegGrad } from '../src/index.js';

describeUnlearnerContract({
  plugin: negGradPlusPlugin,
  use: [registerNegGrad],
  validOptions: { epochs: 1, lr: 0.01, batchSize: 16 },
  invalidOptions: [
    ['a negative beta', { beta: -1 }],
    ['lr 0', { lr: 0 }],
    ['a fractional batchSize', { batchSize: 2.5 }],
    ['an unknown option', { alpha: 0.1 }],
  ],
});

function forgetLoss(model: Model, forget: Subset): number {
  const { x, y } = toTensor(forget);
  try {
    return tf.tidy(() => crossEntropy(model.forward(x), y).dataSync()[0]);
  } finally {
    tf.dispose([x, y]);
  }
}

it('raises the forget loss above what fine-tuning alone (beta 0) reaches', async () => {
  await tf.setBackend('cpu');
  const splits = createTinySplits({ seed: 1, classToForget: 3 });
  const data = { forget: splits.forget, retain: splits.retain, classToForget: 3 };
  async function forgetLossAfter(beta: number): Promise<number> {
    // Same seed, same initial weights and batches: only beta differs between the two runs.
    const container = createContainer({ seed: 1, use: [registerTinyModel, registerNegGrad], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny');
    try {
      await runUnlearner(container, 'neg-grad-plus', { model, data, options: { epochs: 2, lr: 0.01, beta, batchSize: 16 } });
      return forgetLoss(model, data.forget);
    } finally {
      model.dispose();
    }
  }
  expect(await forgetLossAfter(0.5)).toBeGreaterThan(await forgetLossAfter(0));
});
