// docs/guides/code/use-neg-grad-plus.ts
import { type DataSplits, type Model, createContainer, evaluateAccuracy, runUnlearner } from '@unlearnjs/core';
import { registerNegGrad } from './my-unlearner/src/index.js'; // in your app: from 'my-unlearner'

export async function forgetWithNegGradPlus(model: Model, splits: DataSplits) {
  const container = createContainer({ seed: 1, use: [registerNegGrad] });
  const forgetBefore = evaluateAccuracy(model, splits.forget);
  const report = await runUnlearner(container, 'neg-grad-plus', {
    model,
    data: { forget: splits.forget, retain: splits.retain, validation: splits.validation, classToForget: splits.classToForget },
    options: { epochs: 3, lr: 0.01, beta: 0.2 }, // typed by the module augmentation: a misspelt key does not compile
  });
  return {
    forgetBefore,
    forgetAfter: evaluateAccuracy(model, splits.forget),
    retainAfter: evaluateAccuracy(model, splits.retain),
    losses: report.epochs.map((e) => e.loss),
    seconds: report.seconds,
  };
}
