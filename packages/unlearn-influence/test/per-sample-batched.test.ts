import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { type Model, Rng, createContainer, createModel, disposeVector, fullSubset, registerCoreModels, vectorDot } from '@unlearnjs/core';
import { createRandomImageSet, setRandomMasks } from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { perSampleGradients, woodFisherSolve, woodFisherSolveBatched } from '../src/index.js';

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

/** ‖a − b‖ / ‖b‖ over whole parameter vectors. */
function relativeError(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  let num = 0;
  let den = 0;
  for (const [name, t] of b) {
    const [d, n] = tf.tidy(() => [
      tf.sum(tf.square(tf.sub(a.get(name) as tf.Tensor, t))).dataSync()[0],
      tf.sum(tf.square(t)).dataSync()[0],
    ]);
    num += d;
    den += n;
  }
  return Math.sqrt(num / den);
}

describe('perSampleGradients, batched', () => {
  const subset = fullSubset(createRandomImageSet(5, 11));

  it('yields the per-image gradients, in order, within 1e-5, with pruned coordinates exactly zero', () => {
    const model = resnet(1);
    try {
      const before = tf.memory().numTensors;
      const reference = [...perSampleGradients(model, subset, { method: 'per-image' })];
      // A budget of about two images per chunk exercises the chunking.
      const budget = 2 * 8 * [...model.trainableVariables().values()].reduce((s, v) => s + v.size, 0);
      const batched = [...perSampleGradients(model, subset, { method: 'batched', memoryBudgetBytes: budget })];
      expect(batched).toHaveLength(5);
      for (let i = 0; i < 5; i++) {
        expect([...batched[i].keys()]).toEqual([...reference[i].keys()]);
        expect(relativeError(batched[i], reference[i]), `sample ${i}`).toBeLessThan(1e-5);
        for (const [name, mask] of model.masks) {
          const off = tf.tidy(() => tf.sum(tf.abs(tf.mul(batched[i].get(name) as tf.Tensor, tf.sub(1, mask)))).dataSync()[0]);
          expect(off, name).toBe(0);
        }
      }
      for (const g of [...reference, ...batched]) disposeVector(g);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('is the default for ResNet-18 and frees its chunk when the consumer stops early', () => {
    const model = resnet(2);
    try {
      const before = tf.memory().numTensors;
      for (const g of perSampleGradients(model, subset)) {
        disposeVector(g);
        break;
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('gives WoodFisher the same direction as the per-image path, and the same again under the same seed', () => {
    const model = resnet(3);
    try {
      const vars = model.trainableVariables();
      const v = () => new Map([...vars].map(([name, p]) => [name, tf.tidy(() => tf.mul(p, 0.01))]));
      const run = (method: 'batched' | 'per-image') =>
        woodFisherSolve(v(), perSampleGradients(model, subset, { method }), { damping: 3 }).direction;
      const before = tf.memory().numTensors;
      const a = run('per-image');
      const b = run('batched');
      const c = run('batched');
      expect(relativeError(b, a)).toBeLessThan(1e-5);
      expect(vectorDot(b, b)).toBe(vectorDot(c, c));
      for (const k of [a, b, c]) disposeVector(k);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('woodFisherSolveBatched equals woodFisherSolve over per-image gradients, across chunks, without leaks', () => {
    const model = resnet(4);
    try {
      const vars = model.trainableVariables();
      const v = () => new Map([...vars].map(([name, p]) => [name, tf.tidy(() => tf.mul(p, 0.01))]));
      const budget = 2 * 8 * [...vars.values()].reduce((s, p) => s + p.size, 0);
      const before = tf.memory().numTensors;
      const a = woodFisherSolve(v(), perSampleGradients(model, subset, { method: 'per-image' }), { damping: 3 });
      const steps: number[] = [];
      const b = woodFisherSolveBatched(model, v(), subset, { damping: 3, memoryBudgetBytes: budget, onStep: (n) => steps.push(n) });
      expect(b.count).toBe(a.count);
      expect(steps).toEqual([1, 2, 3, 4, 5]);
      expect(relativeError(b.direction, a.direction)).toBeLessThan(1e-5);
      disposeVector(a.direction);
      disposeVector(b.direction);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });
});
