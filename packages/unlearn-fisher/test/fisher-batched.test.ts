import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { type Model, Rng, createContainer, createModel, disposeVector, fullSubset, registerCoreModels } from '@unlearnjs/core';
import { createRandomImageSet, expectUnlearnError, registerTinyModel, setRandomMasks } from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { fisherDiagonal } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A masked ResNet-18 of width 4 with random BatchNorm statistics (eval mode is no identity). */
function resnet(seed: number): Model {
  const model = createModel(createContainer({ seed, use: [registerCoreModels] }), 'resnet18', { width: 4 });
  const rng = new Rng(seed + 1);
  for (const [name, b] of model.buffers) {
    b.assign(tf.tensor(name.endsWith('runningVar') ? rng.uniformArray(b.size, 0.5, 2) : rng.uniformArray(b.size, -0.2, 0.2), b.shape));
  }
  setRandomMasks(model, rng, 0.6);
  model.applyMasks();
  return model;
}

describe('fisherDiagonal, batched', () => {
  // 5 images in batches of 3: a full batch and a partial one.
  const subset = fullSubset(createRandomImageSet(5, 21));

  it('equals the per-class path within 1e-5 (relative, per parameter), pruned coordinates exactly zero, no leak', () => {
    const model = resnet(1);
    try {
      const before = tf.memory().numTensors;
      const ref = fisherDiagonal(model, subset, { batchSize: 3, method: 'per-class' });
      const got = fisherDiagonal(model, subset, { batchSize: 3, method: 'batched' });
      expect([got.samples, got.batches, got.classes]).toEqual([ref.samples, ref.batches, ref.classes]);
      expect([...got.diagonal.keys()]).toEqual([...ref.diagonal.keys()]);
      for (const [name, h] of ref.diagonal) {
        const g = got.diagonal.get(name) as tf.Tensor;
        const err = tf.tidy(() => tf.div(tf.norm(tf.sub(g, h)), tf.norm(h)).dataSync()[0]);
        expect(err, name).toBeLessThan(1e-5);
        const mask = model.masks.get(name);
        if (mask)
          expect(
            tf.tidy(() => tf.sum(tf.mul(g, tf.sub(1, mask))).dataSync()[0]),
            name,
          ).toBe(0);
      }
      disposeVector(ref.diagonal);
      disposeVector(got.diagonal);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('is the default for ResNet-18 and repeats exactly', () => {
    const model = resnet(2);
    try {
      const a = fisherDiagonal(model, subset, { batchSize: 4 });
      const b = fisherDiagonal(model, subset, { batchSize: 4, method: 'batched' });
      for (const [name, h] of a.diagonal)
        expect(Array.from(h.dataSync())).toEqual(Array.from((b.diagonal.get(name) as tf.Tensor).dataSync()));
      disposeVector(a.diagonal);
      disposeVector(b.diagonal);
    } finally {
      model.dispose();
    }
  });

  it('refuses batched on a model core cannot batch, with a coded error', async () => {
    const container = createContainer({ seed: 1, use: [registerTinyModel] });
    const model = createModel(container, 'tiny');
    try {
      await expectUnlearnError(() => fisherDiagonal(model, subset, { method: 'batched' }), 'UNLEARN_INVALID_OPTIONS');
      const before = tf.memory().numTensors;
      const auto = fisherDiagonal(model, subset, { batchSize: 5 });
      disposeVector(auto.diagonal);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });
});
