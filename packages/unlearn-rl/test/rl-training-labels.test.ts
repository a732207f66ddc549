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

async function labelsUsed(seed: number, classToForget: number) {
  const s = createTinySplits({ seed: 6, n: 120, classToForget });
  const data = { forget: s.forget, retain: s.retain, validation: s.validation, classToForget: s.classToForget };
  const container = createContainer({ seed, use: [registerTinyModel, registerRl], logger: createMemoryLogger() });
  const model = createModel(container, 'tiny');
  try {
    calls.length = 0;
    await runUnlearner(container, 'rl', { model, data, options: { epochs: 1, batchSize: 64 } });
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

  for (const classToForget of [3, -1]) {
    it(`gives every forget sample a wrong label and every retain sample its own (${classToForget < 0 ? 'random' : 'class-wise'})`, async () => {
      const { data, options } = await labelsUsed(0, classToForget);
      const nf = data.forget.indices.length;
      const labels = options.labels as Uint8Array;
      expect(Array.from(options.data.indices)).toEqual([...data.forget.indices, ...data.retain.indices]);
      const fTrue = subsetLabels(data.forget);
      for (let k = 0; k < nf; k++) expect(labels[k]).not.toBe(fTrue[k]);
      expect(Array.from(labels.subarray(nf))).toEqual(Array.from(subsetLabels(data.retain)));
    });
  }

  it('draws the same labels under the same seed and others under another seed', async () => {
    const a = (await labelsUsed(11, -1)).options.labels;
    const b = (await labelsUsed(11, -1)).options.labels;
    const c = (await labelsUsed(12, -1)).options.labels;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});
