// docs/guides/code/my-pruner/test/layerwise-magnitude.test.ts
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createContainer, createMemoryLogger, createModel, runPruner } from '@unlearnjs/core';
import { describePrunerContract, registerTinyModel } from '@unlearnjs/testing';
import { expect, it } from 'vitest';
import { layerwiseMagnitudePlugin, registerLayerwiseMagnitude } from '../src/index.js';

describePrunerContract({
  plugin: layerwiseMagnitudePlugin,
  use: [registerLayerwiseMagnitude],
  validOptions: { rate: 0.5 },
  invalidOptions: [
    ['a rate of 1', { rate: 1 }],
    ['a negative rate', { rate: -0.1 }],
    ['an unknown option', { sparsity: 0.5 }],
  ],
});

it('removes the same share of every layer, smallest |w| first, and compounds over rounds', async () => {
  await tf.setBackend('cpu');
  const container = createContainer({ seed: 1, use: [registerTinyModel, registerLayerwiseMagnitude], logger: createMemoryLogger() });
  const model = createModel(container, 'tiny', { hidden: 16 });
  try {
    const before = new Map([...model.params].map(([name, w]) => [name, w.dataSync().map(Math.abs)]));
    const report = await runPruner(container, 'layerwise-magnitude', { model, options: { rate: 0.5 } });
    expect(report.sparsity.layers.map((l) => l.name)).toEqual(model.prunable);
    for (const layer of report.sparsity.layers) {
      expect(layer.pruned).toBe(Math.round(0.5 * layer.size));
      const mask = model.masks.get(layer.name)?.dataSync() ?? [];
      const magnitude = before.get(layer.name) ?? [];
      const kept = magnitude.filter((_, i) => mask[i] === 1);
      const removed = magnitude.filter((_, i) => mask[i] === 0);
      expect(Math.max(...removed)).toBeLessThanOrEqual(Math.min(...kept));
    }
    // A second round removes half of what is left (about 75% of every layer in all).
    const again = await runPruner(container, 'layerwise-magnitude', { model, options: { rate: 0.5 } });
    report.sparsity.layers.forEach((first, i) => {
      expect(again.sparsity.layers[i].pruned).toBe(first.pruned + Math.round(0.5 * (first.size - first.pruned)));
    });
  } finally {
    model.dispose();
  }
});
