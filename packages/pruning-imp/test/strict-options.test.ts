import { createModel, runPruner } from '@unlearnjs/core';
import { expectUnlearnError, createTinySplits, modelState } from '@unlearnjs/testing';
import { describe, expect, it } from 'vitest';
import { container, useCpu } from './fixtures.js';

useCpu();

// A misspelt option used to be dropped silently, so `{ ratee: 0.5 }` pruned to the default 95%.
describe('pruner options are strict', () => {
  const splits = createTinySplits({ seed: 0, n: 20 });
  const typos: Array<[string, Record<string, unknown>, string]> = [
    ['omp', { ratee: 0.5, epochs: 0 }, 'ratee'],
    ['imp', { rate: 0.2, pruningTime: 2 }, 'pruningTime'],
    ['random', { ratee: 0.5 }, 'ratee'],
    ['synflow', { rate: 0.5, iteration: 3 }, 'iteration'],
    ['omp', { epochs: 0, schedule: { type: 'cosine', minlr: 0.01 } }, 'minlr'],
  ];
  for (const [name, options, key] of typos) {
    it(`${name} refuses ${JSON.stringify(options)} naming "${key}", before touching the model`, async () => {
      const c = container(0);
      const model = createModel(c, 'tiny');
      try {
        const before = modelState(model);
        const err = await expectUnlearnError(() => runPruner(c, name, { model, data: splits, options }), 'UNLEARN_INVALID_OPTIONS');
        expect(err.message).toContain(key);
        expect(modelState(model)).toEqual(before);
      } finally {
        model.dispose();
      }
    });
  }

  it('still accepts every documented option', async () => {
    const c = container(0);
    const model = createModel(c, 'tiny');
    try {
      const r = await runPruner(c, 'random', { model, data: splits, options: { rate: 0.5, names: [...model.prunable] } });
      expect(r.pruner).toBe('random');
    } finally {
      model.dispose();
    }
  });
});

// One owner per bound: the training pruners take train's SGD ranges and messages (SGD_FIELDS).
describe('the training pruners check SGD options with train’s own bounds', () => {
  it('gives the same message as an unlearner for the same bad value', async () => {
    for (const [options, message] of [
      [{ lr: 0 }, 'lr must be > 0 (and <= 10)'],
      [{ lr: 11 }, 'lr must be > 0 and <= 10'],
      [{ batchSize: 0 }, 'batchSize must be an integer >= 1'],
      [{ momentum: 2 }, 'momentum must be in [0, 1]'],
    ] as const) {
      const c = container(0);
      const model = createModel(c, 'tiny');
      try {
        const err = await expectUnlearnError(
          () => runPruner(c, 'omp', { model, data: createTinySplits({ seed: 0, n: 20 }), options: { epochs: 0, ...options } }),
          'UNLEARN_INVALID_OPTIONS',
        );
        expect(err.message).toContain(message);
      } finally {
        model.dispose();
      }
    }
  });
});
