import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type EvalData, createContainer, createMemoryLogger, listPlugins, runEvaluator, subsetOf } from '@unlearnjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerEvalMia, withPredictionCache } from '@unlearnjs/eval-mia';
import { type Pixel, channelModel, makeSet, pixel, range } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** `n` images of class `label`, the first `correct` predicted right, the others predicted `(label + 1) % 3`. */
function images(label: number, n: number, correct: number): Pixel[] {
  return Array.from({ length: n }, (_, i) => pixel(label, i < correct ? label : (label + 1) % 3));
}

// Train: forget = 10 images, 3 predicted right; retain = 20 images, 15 right.
const train = makeSet([...images(2, 10, 3), ...images(0, 10, 9), ...images(1, 10, 6)]);
// Test: per class 4 images with 3, 2, 1 right.
const test = makeSet([...images(0, 4, 3), ...images(1, 4, 2), ...images(2, 4, 1)]);
const forget = range(train, 0, 10);
const retain = range(train, 10, 30);
const testAll = range(test, 0, 12);

function container(seed = 1) {
  return createContainer({ seed, use: [registerEvalMia], logger: createMemoryLogger() });
}

describe('accuracy evaluator', () => {
  it('is registered with svc-mia', () => {
    const c = container();
    expect(listPlugins(c, 'evaluator').map((p) => p.name)).toEqual(['accuracy', 'svc-mia']);
    expect(() => registerEvalMia(c)).not.toThrow();
  });

  it('gives UA, RA, TA and TA-all equal to hand-counted accuracies (random forgetting)', async () => {
    const model = channelModel();
    const data: EvalData = { forget, retain, test: testAll, classToForget: -1 };
    const before = tf.memory().numTensors;
    const r = await runEvaluator(container(), 'accuracy', { model, data });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.evaluator).toBe('accuracy');
    expect(r.metrics.UA).toBeCloseTo(100 - 30, 10);
    expect(r.metrics.RA).toBeCloseTo(75, 10);
    expect(r.metrics.TA).toBeCloseTo(50, 10);
    expect(r.metrics['TA-all']).toBeCloseTo(50, 10);
    expect(r.details?.perClassTestAccuracy).toEqual({ a: 75, b: 50, c: 25 });
    expect(r.details?.sizes).toMatchObject({ forget: 10, retain: 20, retainEvaluated: 20, test: 12, testForTA: 12 });
    model.dispose();
  });

  it('measures TA on the retained classes for class-wise forgetting, however they are given', async () => {
    const model = channelModel();
    const retained = range(test, 0, 8); // classes a and b: 5 of 8 right
    // The same images in another ImageSet object: predicted separately.
    const copy = makeSet([...images(0, 4, 3), ...images(1, 4, 2)]);
    for (const testRetainClasses of [undefined, retained, range(copy, 0, 8)]) {
      const r = await runEvaluator(container(), 'accuracy', {
        model,
        data: { forget, retain, test: testAll, testRetainClasses, classToForget: 2 },
      });
      expect(r.metrics.TA).toBeCloseTo(62.5, 10);
      expect(r.metrics['TA-all']).toBeCloseTo(50, 10);
      expect(r.details?.sizes).toMatchObject({ testForTA: 8 });
    }
    model.dispose();
  });

  it('does not depend on the batch size', async () => {
    const model = channelModel();
    const data: EvalData = { forget, retain, test: testAll, classToForget: -1 };
    const a = await runEvaluator(container(), 'accuracy', { model, data, options: { batchSize: 3 } });
    const b = await runEvaluator(container(), 'accuracy', { model, data, options: { batchSize: 256 } });
    expect(a.metrics).toEqual(b.metrics);
    model.dispose();
  });

  it('subsamples the retain set with the run seed when maxRetain is set', async () => {
    const model = channelModel();
    const data: EvalData = { forget, retain, test: testAll, classToForget: -1 };
    const run = (seed: number) => runEvaluator(container(seed), 'accuracy', { model, data, options: { maxRetain: 8 } });
    const [a, b] = [await run(3), await run(3)];
    expect(a.metrics.RA).toBe(b.metrics.RA);
    expect(a.details?.sizes).toMatchObject({ retainEvaluated: 8, retain: 20 });
    expect(Number.isInteger(a.metrics.RA / 12.5)).toBe(true);
    // Every retain image is right in this set: any subsample gives 100.
    const allRight = { ...data, retain: subsetOf(train, [10, 11, 12, 13, 14, 15, 16, 17, 18]) };
    const c = await runEvaluator(container(5), 'accuracy', { model, data: allRight, options: { maxRetain: 4 } });
    expect(c.metrics.RA).toBe(100);
    model.dispose();
  });

  it('refuses bad options and empty sets with coded errors', async () => {
    const model = channelModel();
    const data: EvalData = { forget, retain, test: testAll, classToForget: -1 };
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
    expect(await code(runEvaluator(container(), 'accuracy', { model, data, options: { batchSize: 0 } }))).toBe('UNLEARN_INVALID_OPTIONS');
    expect(await code(runEvaluator(container(), 'accuracy', { model, data, options: { maxRetian: 3 } as never }))).toBe(
      'UNLEARN_INVALID_OPTIONS',
    );
    expect(await code(runEvaluator(container(), 'accuracy', { model, data: { ...data, forget: subsetOf(train, []) } }))).toBe(
      'UNLEARN_INVALID_OPTIONS',
    );
    model.dispose();
  });
});

describe('withPredictionCache', () => {
  /** The channel model, counting the images its forward pass sees. */
  function countingModel() {
    const model = channelModel();
    const counted = { images: 0 };
    const forward = model.forward.bind(model);
    model.forward = (x, o) => {
      counted.images += x.shape[0];
      return forward(x, o);
    };
    return { model, counted };
  }

  it('gives every evaluator the same results as without it, predicting each image once, without leaks', async () => {
    const data: EvalData = { forget, retain, test: testAll, classToForget: 2 };
    const plain = countingModel();
    const accPlain = await runEvaluator(container(), 'accuracy', { model: plain.model, data, options: { batchSize: 4, maxRetain: 15 } });
    const miaPlain = await runEvaluator(container(), 'svc-mia', { model: plain.model, data, options: { batchSize: 4 } });
    const cached = countingModel();
    const before = tf.memory().numTensors;
    const [acc, mia] = await withPredictionCache(cached.model, async () => [
      await runEvaluator(container(), 'accuracy', { model: cached.model, data, options: { batchSize: 4, maxRetain: 15 } }),
      await runEvaluator(container(), 'svc-mia', { model: cached.model, data, options: { batchSize: 4 } }),
    ]);
    expect(tf.memory().numTensors).toBe(before);
    expect(acc).toEqual(accPlain);
    expect(mia).toEqual(miaPlain);
    // Distinct images: the forget set, the 15 sampled retain images plus the shadow members
    // among the rest, and the test set.
    expect(cached.counted.images).toBeLessThan(plain.counted.images);
    expect(cached.counted.images).toBeLessThanOrEqual(forget.indices.length + retain.indices.length + testAll.indices.length);
    // Outside the scope nothing is kept: the model runs again.
    const again = cached.counted.images;
    await runEvaluator(container(), 'accuracy', { model: cached.model, data });
    expect(cached.counted.images).toBe(again + forget.indices.length + 20 + testAll.indices.length);
    plain.model.dispose();
    cached.model.dispose();
  });

  it('predicts a changed model afresh in a new scope', async () => {
    const data: EvalData = { forget, retain, test: testAll, classToForget: -1 };
    const model = channelModel();
    const first = await withPredictionCache(model, () => runEvaluator(container(), 'accuracy', { model, data }));
    const w = tf.mul(tf.eye(3), -10);
    model.load(new Map([['w', w]]));
    w.dispose();
    const second = await withPredictionCache(model, () => runEvaluator(container(), 'accuracy', { model, data }));
    expect(second.metrics).toEqual((await runEvaluator(container(), 'accuracy', { model, data })).metrics);
    expect(second.metrics.RA).not.toBe(first.metrics.RA);
    model.dispose();
  });
});
