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
