// docs/guides/code/use-layerwise-magnitude.ts
import { type DataSplits, type Model, createContainer, evaluateAccuracy, runPruner, runServices, saveModel, train } from '@unlearnjs/core';
import { registerLayerwiseMagnitude } from './my-pruner/src/index.js'; // in your app: from 'my-pruner'

export async function pruneAndFineTune(model: Model, splits: DataSplits, options: { rate: number; epochs: number; saveTo: string }) {
  const container = createContainer({ seed: 1, use: [registerLayerwiseMagnitude] });
  const report = await runPruner(container, 'layerwise-magnitude', { model, options: { rate: options.rate } });
  // Pruning costs accuracy; training wins it back, and core's train keeps every masked weight at 0.
  await train(model, {
    data: splits.train,
    epochs: options.epochs,
    batchSize: 64,
    lr: 0.01,
    services: runServices(container, 'fine-tune'),
  });
  // Weights and masks: what `unlearn forget --mask` loads.
  await saveModel(options.saveTo, model, { pruner: report.pruner, sparsity: report.sparsity.global });
  return { sparsity: report.sparsity, testAccuracy: evaluateAccuracy(model, splits.test) };
}
