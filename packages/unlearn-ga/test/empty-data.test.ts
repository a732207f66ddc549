import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type UnlearnData, createContainer, createMemoryLogger, createModel, parseOptions, silentProgress } from '@unlearnjs/core';
import { createTinyUnlearnData, expectUnlearnError, modelState, registerTinyModel } from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { gaPlugin, registerGa } from '../src/index.js';

// Run without an empty set it needs, the method used to run no step (or, for retrain, leave a
// freshly initialised model) and report success.
describe('ga on an empty set it needs', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const set of ['forget'] as const) {
    it(`refuses an empty ${set} set with UNLEARN_EMPTY_DATA naming the method and the set, before touching the model`, async () => {
      const container = createContainer({ seed: 1, use: [registerTinyModel, registerGa], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      try {
        const full = createTinyUnlearnData({ seed: 3, n: 60, classToForget: -1, numToForget: 6 });
        const data: UnlearnData = { ...full, [set]: { source: full[set].source, indices: new Int32Array(0) } };
        const unlearner = gaPlugin.create(container);
        const before = modelState(model);
        const err = await expectUnlearnError(
          () =>
            unlearner.unlearn({
              model,
              data,
              options: parseOptions(unlearner.optionsSchema, { epochs: 1 }, 'test'),
              services: { logger: createMemoryLogger(), progress: silentProgress, signal: new AbortController().signal, rng: new Rng(1) },
            }),
          'UNLEARN_EMPTY_DATA',
        );
        expect(err.message).toContain('"ga"');
        expect(err.message).toContain(`${set} set`);
        expect(err.details).toMatchObject({ method: 'ga', set });
        expect(modelState(model)).toEqual(before);
      } finally {
        model.dispose();
      }
    });
  }
});
