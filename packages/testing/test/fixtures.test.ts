import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng,
  createContainer,
  createMemoryLogger,
  createModel,
  evaluateAccuracy,
  fullSubset,
  runServices,
  subsetLabels,
  train,
} from '@unlearnjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createSyntheticImageSet,
  createTinyModel,
  createTinySplits,
  expectUnlearnError,
  registerTinyModel,
  tinyModelDefinition,
} from '@unlearnjs/testing';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('createSyntheticImageSet', () => {
  it('is a 32x32x3 uint8 set with balanced labels, the same for the same seed', () => {
    const a = createSyntheticImageSet({ n: 25, seed: 3, classes: 5 });
    const b = createSyntheticImageSet({ n: 25, seed: 3, classes: 5 });
    const c = createSyntheticImageSet({ n: 25, seed: 4, classes: 5 });
    expect(a.size).toBe(25);
    expect(a.images.length).toBe(25 * 32 * 32 * 3);
    expect(a.classNames).toEqual(['class-0', 'class-1', 'class-2', 'class-3', 'class-4']);
    const counts = new Array(5).fill(0);
    for (const l of a.labels) counts[l]++;
    expect(counts).toEqual([5, 5, 5, 5, 5]);
    // Buffer.equals: vitest's deep equality walks typed arrays element by element (slow).
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(a.labels).toEqual(b.labels);
    expect(Buffer.from(a.images).equals(Buffer.from(c.images))).toBe(false);
    expect(createSyntheticImageSet({ n: 10, seed: 0 }).classNames[0]).toBe('airplane');
  });

  it('rejects out-of-range options with UNLEARN_INVALID_OPTIONS', async () => {
    await expectUnlearnError(() => createSyntheticImageSet({ n: 0, seed: 0 }), 'UNLEARN_INVALID_OPTIONS');
    await expectUnlearnError(() => createSyntheticImageSet({ n: 4, seed: 0, classes: 1 }), 'UNLEARN_INVALID_OPTIONS');
    await expectUnlearnError(() => createSyntheticImageSet({ n: 4, seed: 0, noise: -1 }), 'UNLEARN_INVALID_OPTIONS');
  });

  it('is learnable: the tiny model beats chance by far after a few epochs', async () => {
    const container = createContainer({ seed: 1, use: [registerTinyModel], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny', {});
    try {
      const trainSet = createSyntheticImageSet({ n: 120, seed: 1 });
      const testSet = createSyntheticImageSet({ n: 60, seed: 2 });
      const before = evaluateAccuracy(model, fullSubset(testSet));
      await train(model, {
        data: fullSubset(trainSet),
        epochs: 5,
        batchSize: 20,
        lr: 0.05,
        augment: false,
        evalEvery: 0,
        services: runServices(container, 'train'),
      });
      const after = evaluateAccuracy(model, fullSubset(testSet));
      // 10 balanced classes: chance is 10%.
      expect(after).toBeGreaterThan(60);
      expect(after).toBeGreaterThan(before);
    } finally {
      model.dispose();
    }
  });
});

describe('createTinySplits', () => {
  it('makes class-wise splits: the forget set is the class, the retain set lacks it', () => {
    const s = createTinySplits({ seed: 2, n: 100, classToForget: 3 });
    expect(s.classToForget).toBe(3);
    expect(s.validation.indices.length).toBe(10);
    expect(s.forget.indices.length + s.retain.indices.length).toBe(s.train.indices.length);
    expect([...subsetLabels(s.forget)].every((l) => l === 3)).toBe(true);
    expect([...subsetLabels(s.retain)].includes(3)).toBe(false);
    expect([...subsetLabels(s.train)].filter((l) => l === 3).length).toBe(s.forget.indices.length);
    expect([...subsetLabels(s.testRetainClasses)].includes(3)).toBe(false);
    expect(s.test.indices.length).toBe(40);
    const again = createTinySplits({ seed: 2, n: 100, classToForget: 3 });
    expect(again.forget.indices).toEqual(s.forget.indices);
    expect(Buffer.from(again.train.source.images).equals(Buffer.from(s.train.source.images))).toBe(true);
  });

  it('supports random forgetting', () => {
    const s = createTinySplits({ seed: 0, n: 50, classToForget: -1, numToForget: 7, validationSize: 0 });
    expect(s.forget.indices.length).toBe(7);
    expect(s.retain.indices.length).toBe(43);
  });
});

describe('tiny model', () => {
  it('has prunable conv and dense kernels and computes [n, 10] logits', () => {
    const def = tinyModelDefinition();
    expect(def.prunable).toEqual(['conv.kernel', 'dense.kernel']);
    expect(def.buffers).toEqual([]);
    const model = createTinyModel(new Rng(0));
    const x = tf.zeros([2, 32, 32, 3]) as tf.Tensor4D;
    try {
      expect(model.numParams()).toBe(3 * 3 * 3 * 4 + 4 + 8 * 8 * 4 * 10 + 10);
      const logits = tf.tidy(() => model.forward(x));
      expect(logits.shape).toEqual([2, 10]);
      logits.dispose();
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('adds a prunable hidden layer when asked', () => {
    const def = tinyModelDefinition({ hidden: 8, channels: 2, numClasses: 3 });
    expect(def.prunable).toEqual(['conv.kernel', 'hidden.kernel', 'dense.kernel']);
    expect(def.params.find((p) => p.name === 'hidden.kernel')?.shape).toEqual([128, 8]);
    expect(def.params.find((p) => p.name === 'dense.kernel')?.shape).toEqual([8, 3]);
    expect(def.config).toEqual({ channels: 2, hidden: 8, numClasses: 3 });
  });
});
