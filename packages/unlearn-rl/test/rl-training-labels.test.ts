import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type * as core from '@unlearnjs/core';
import { createContainer, createMemoryLogger, createModel, runUnlearner, subsetLabels } from '@unlearnjs/core';
import { createTinySplits, registerTinyModel } from '@unlearnjs/testing';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { registerRl } from '../src/index.js';

// Record what the unlearner hands to core's trainer (`trainUnlearner`, which passes `data` and
// `labels` on to `train` unchanged), and still train for real.
const calls: core.TrainUnlearnerOptions[] = [];
vi.mock('@unlearnjs/core', async (importOriginal) => {
  const actual = await importOriginal<typeof core>();
  return {
    ...actual,
    trainUnlearner: (ctx: core.UnlearnContext<core.SgdUnlearnOptions>, options: core.TrainUnlearnerOptions) => {
      calls.push(options);
      return actual.trainUnlearner(ctx, options);
    },
  };
});

async function labelsUsed(seed: number, classToForget: number, options: Record<string, unknown> = { labels: 'fixed-wrong' }) {
  const s = createTinySplits({ seed: 6, n: 120, classToForget });
  const data = { forget: s.forget, retain: s.retain, validation: s.validation, classToForget: s.classToForget };
  const container = createContainer({ seed, use: [registerTinyModel, registerRl], logger: createMemoryLogger() });
  const model = createModel(container, 'tiny');
  try {
    calls.length = 0;
    await runUnlearner(container, 'rl', { model, data, options: { epochs: 1, batchSize: 64, ...options } });
    expect(calls).toHaveLength(1);
    return { data, options: calls[0] };
  } finally {
    model.dispose();
  }
}

describe('rl training labels', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  describe("the reference's labels (default 'per-batch')", () => {
    it('each epoch trains D_f with fresh labels first, then D_r with its own labels', async () => {
      const { data, options } = await labelsUsed(0, -1, {});
      expect(options.labels).toBeUndefined();
      const passes = options.epochPasses as NonNullable<core.TrainUnlearnerOptions['epochPasses']>;
      expect(passes).toBeTypeOf('function');
      for (const epoch of [0, 1, 7]) {
        const [first, second, ...more] = passes(epoch);
        expect(more).toHaveLength(0);
        expect(first.data).toBe(data.forget);
        expect(first.labels).toHaveLength(data.forget.indices.length);
        expect(second.data).toBe(data.retain);
        expect(second.labels).toBeUndefined();
      }
      // The wasm heap plan sees every image the epoch trains on.
      expect(Array.from(options.data.indices)).toEqual([...data.forget.indices, ...data.retain.indices]);
    });

    it('draws new labels every epoch, uniform over all classes (the true one included), seeded', async () => {
      const { data, options } = await labelsUsed(3, -1, {});
      const passes = options.epochPasses as NonNullable<core.TrainUnlearnerOptions['epochPasses']>;
      const trueLabels = subsetLabels(data.forget);
      const nf = trueLabels.length;
      const epochs = 400;
      const counts = new Array<number>(10).fill(0);
      const perImage = Array.from({ length: nf }, () => new Set<number>());
      let kept = 0;
      let changedBetweenEpochs = 0;
      let previous: Uint8Array | undefined;
      for (let e = 0; e < epochs; e++) {
        const labels = passes(e)[0].labels as Uint8Array;
        for (let k = 0; k < nf; k++) {
          counts[labels[k]]++;
          perImage[k].add(labels[k]);
          if (labels[k] === trueLabels[k]) kept++;
          if (previous && previous[k] !== labels[k]) changedBetweenEpochs++;
        }
        previous = labels;
      }
      const draws = nf * epochs;
      // Each class ~draws/10; 5 standard deviations of a binomial(draws, 0.1) either side.
      const sd = Math.sqrt(draws * 0.1 * 0.9);
      for (const c of counts) expect(Math.abs(c - draws / 10)).toBeLessThan(5 * sd);
      expect(Math.abs(kept - draws / 10)).toBeLessThan(5 * sd);
      // A label changes between two epochs with probability 0.9.
      expect(Math.abs(changedBetweenEpochs - (epochs - 1) * nf * 0.9)).toBeLessThan(5 * Math.sqrt((epochs - 1) * nf * 0.09));
      for (const seen of perImage) expect(seen.size).toBe(10);

      // Same seed, same labels (asking again, or in another order); another seed, others.
      const again = (await labelsUsed(3, -1, {})).options.epochPasses as typeof passes;
      expect(again(5)[0].labels).toEqual(passes(5)[0].labels);
      const other = (await labelsUsed(4, -1, {})).options.epochPasses as typeof passes;
      expect(other(5)[0].labels).not.toEqual(passes(5)[0].labels);
    });
  });

  for (const classToForget of [3, -1]) {
    it(`with 'fixed-wrong' gives every forget sample a wrong label and every retain sample its own (${classToForget < 0 ? 'random' : 'class-wise'})`, async () => {
      const { data, options } = await labelsUsed(0, classToForget);
      const nf = data.forget.indices.length;
      const labels = options.labels as Uint8Array;
      expect(Array.from(options.data.indices)).toEqual([...data.forget.indices, ...data.retain.indices]);
      const fTrue = subsetLabels(data.forget);
      for (let k = 0; k < nf; k++) expect(labels[k]).not.toBe(fTrue[k]);
      expect(Array.from(labels.subarray(nf))).toEqual(Array.from(subsetLabels(data.retain)));
    });
  }

  it("with 'fixed-wrong' draws the same labels under the same seed and others under another seed", async () => {
    const a = (await labelsUsed(11, -1)).options.labels;
    const b = (await labelsUsed(11, -1)).options.labels;
    const c = (await labelsUsed(12, -1)).options.labels;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});
