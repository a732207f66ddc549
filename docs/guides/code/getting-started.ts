// docs/guides/code/getting-started.ts
import {
  createContainer,
  createModel,
  evaluateAccuracy,
  initBackend,
  loadCifar10,
  makeSplits,
  registerCoreModels,
  runServices,
  runUnlearner,
  train,
} from '@unlearnjs/core';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import { registerFt } from '@unlearnjs/unlearn-ft';

export async function run(options: { trainLimit: number; epochs: number }) {
  // On wasm, @unlearnjs/backend-wasm adds the kernels training needs; the container hands the
  // chosen backend to training, which plans batches to fit the 4 GiB wasm heap.
  const backend = await initBackend('auto', { extensions: [wasmTrainingBackend] });
  const container = createContainer({ seed: 1, backend, use: [registerCoreModels, registerFt] });
  const trainSet = await loadCifar10({ split: 'train', limit: options.trainLimit, quiet: true });
  const testSet = await loadCifar10({ split: 'test', limit: 200, quiet: true });
  const splits = makeSplits(trainSet, testSet, { seed: 1, validationSize: 20, classToForget: 3 });

  const model = createModel(container, 'resnet18', { width: 4 });
  await train(model, { data: splits.train, epochs: options.epochs, batchSize: 32, lr: 0.05, services: runServices(container, 'train') });
  const before = evaluateAccuracy(model, splits.forget);

  const report = await runUnlearner(container, 'ft', {
    model,
    data: splits,
    options: { epochs: 1, lr: 0.01 },
  });
  const after = evaluateAccuracy(model, splits.forget);
  model.dispose();
  return { before, after, seconds: report.seconds };
}
