import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type UnlearnData, createContainer, createMemoryLogger, createModel, runUnlearner, subsetLabels } from '@unlearnjs/core';
import {
  createSyntheticImageSet,
  describeUnlearnerContract,
  expectUnlearnError,
  registerTinyModel,
  createTinyUnlearnData,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomLabelSet, randomWrongLabels, registerRl, rlOptionsSchema, rlPlugin } from '../src/index.js';

describeUnlearnerContract({
  needs: ['forget', 'retain'],
  plugin: rlPlugin,
  use: [registerRl],
  validOptions: { epochs: 1, batchSize: 32 },
  invalidOptions: [
    ['lr 0', { lr: 0 }],
    ['negative epochs', { epochs: -2 }],
    ['batchSize 0', { batchSize: 0 }],
    ['momentum above 1', { momentum: 1.5 }],
    ['an unknown option', { seed: 3 }],
    ['an unknown labels mode', { labels: 'sometimes' }],
  ],
});

describeUnlearnerContract({
  needs: ['forget', 'retain'],
  plugin: rlPlugin,
  use: [registerRl],
  validOptions: { epochs: 1, batchSize: 32, labels: 'fixed-wrong' },
  invalidOptions: [],
});

function unlearnData(classToForget: number): UnlearnData {
  return createTinyUnlearnData({ seed: 5, n: 120, classToForget });
}

describe('randomWrongLabels', () => {
  const trueLabels = Uint8Array.from({ length: 2000 }, (_, i) => (i * 7) % 10);

  it('never gives a sample its true label, and uses every wrong class about equally', () => {
    const labels = randomWrongLabels(trueLabels, 10, new Rng(1));
    const counts = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    for (let i = 0; i < trueLabels.length; i++) {
      expect(labels[i]).not.toBe(trueLabels[i]);
      expect(labels[i]).toBeLessThan(10);
      counts[trueLabels[i]][labels[i]]++;
    }
    // 200 samples per true class spread over 9 wrong classes: ~22 each; none may be starved.
    for (let y = 0; y < 10; y++) for (let c = 0; c < 10; c++) if (c !== y) expect(counts[y][c]).toBeGreaterThan(5);
  });

  it('is deterministic under a seed and changes with it', () => {
    expect(randomWrongLabels(trueLabels, 10, new Rng(7))).toEqual(randomWrongLabels(trueLabels, 10, new Rng(7)));
    expect(randomWrongLabels(trueLabels, 10, new Rng(7))).not.toEqual(randomWrongLabels(trueLabels, 10, new Rng(8)));
  });

  it('with two classes always flips the label', () => {
    const two = Uint8Array.from([0, 1, 1, 0]);
    expect(Array.from(randomWrongLabels(two, 2, new Rng(0)))).toEqual([1, 0, 0, 1]);
  });

  it('rejects fewer than 2 classes and labels outside the classes', async () => {
    await expectUnlearnError(() => randomWrongLabels(trueLabels, 1, new Rng(0)), 'UNLEARN_INVALID_OPTIONS');
    await expectUnlearnError(() => randomWrongLabels(trueLabels, 5, new Rng(0)), 'UNLEARN_INVALID_OPTIONS');
  });
});

describe('randomLabelSet', () => {
  it('puts D_f (relabelled) then D_r (true labels) in one subset of the same source', () => {
    const { forget, retain } = unlearnData(-1);
    const set = randomLabelSet(forget, retain, 10, new Rng(2));
    const nf = forget.indices.length;
    expect(set.forgetSize).toBe(nf);
    expect(set.data.source).toBe(forget.source);
    expect(Array.from(set.data.indices)).toEqual([...forget.indices, ...retain.indices]);
    const fTrue = subsetLabels(forget);
    for (let k = 0; k < nf; k++) expect(set.labels[k]).not.toBe(fTrue[k]);
    expect(Array.from(set.labels.subarray(nf))).toEqual(Array.from(subsetLabels(retain)));
  });

  it('refuses subsets of different image sets', async () => {
    const { forget } = unlearnData(0);
    const other = createSyntheticImageSet({ n: 4, seed: 9 });
    await expectUnlearnError(
      () => randomLabelSet(forget, { source: other, indices: Int32Array.from([0, 1]) }, 10, new Rng(0)),
      'UNLEARN_INVALID_OPTIONS',
    );
  });
});

describe('rl', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('has the reference defaults', () => {
    expect(rlOptionsSchema.parse({})).toMatchObject({
      epochs: 10,
      lr: 0.01,
      labels: 'per-batch',
      batchSize: 256,
      momentum: 0.9,
      weightDecay: 5e-4,
      augment: true,
    });
  });

  for (const [classToForget, labels] of [
    [1, 'per-batch'],
    [-1, 'per-batch'],
    [-1, 'fixed-wrong'],
  ] as const) {
    it(`trains on D_f and D_r every epoch with every forget sample relabelled (${classToForget < 0 ? 'random' : 'class-wise'} forgetting, ${labels})`, async () => {
      const totals: number[] = [];
      const progress = {
        start: (_label: string, total: number) => {
          totals.push(total);
          return { tick: () => {}, end: () => {} };
        },
      };
      const container = createContainer({ seed: 2, use: [registerTinyModel, registerRl], logger: createMemoryLogger(), progress });
      const model = createModel(container, 'tiny');
      try {
        const data = unlearnData(classToForget);
        const report = await runUnlearner(container, 'rl', { model, data, options: { epochs: 2, batchSize: 32, labels } });
        const union = data.forget.indices.length + data.retain.indices.length;
        expect(totals).toEqual([union, union]);
        expect(report.extra.relabelled).toBe(data.forget.indices.length);
        expect(report.extra.numClasses).toBe(10);
        expect(report.extra.labels).toBe(labels);
        expect(report.epochs).toHaveLength(2);
      } finally {
        model.dispose();
      }
    });
  }

  it('rejects a model with fewer outputs than the data has classes', async () => {
    const container = createContainer({ seed: 2, use: [registerTinyModel, registerRl], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny', { numClasses: 3 });
    try {
      for (const labels of ['per-batch', 'fixed-wrong'] as const) {
        await expectUnlearnError(
          () => runUnlearner(container, 'rl', { model, data: unlearnData(7), options: { epochs: 1, labels } }),
          'UNLEARN_INVALID_OPTIONS',
        );
      }
    } finally {
      model.dispose();
    }
  });
});
