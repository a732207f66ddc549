// docs/guides/code/unlearn-layers-model.ts
import type * as tfl from '@tensorflow/tfjs-layers';
import { type UnlearnData, createContainer, evaluateAccuracy, runUnlearner } from '@unlearnjs/core';
import { exportLayersModel, importLayersModel, registerInterop } from '@unlearnjs/interop';
import { registerFt } from '@unlearnjs/unlearn-ft';

/**
 * Unlearn a TensorFlow.js layers model (a model.json path, or a tf.LayersModel in memory) with FT,
 * and write the result as outDir/model.json + outDir/weights.bin for tf.loadLayersModel.
 */
export async function unlearnLayersModel(source: string | tfl.LayersModel, data: UnlearnData, outDir: string) {
  const container = createContainer({ seed: 1, use: [registerInterop, registerFt] });
  const { model } = await importLayersModel(source, { container });
  try {
    const forgetBefore = evaluateAccuracy(model, data.forget);
    await runUnlearner(container, 'ft', { model, data, options: { epochs: 2, lr: 0.01, batchSize: 32 } });
    const forgetAfter = evaluateAccuracy(model, data.forget);
    const { modelJson } = await exportLayersModel(model, outDir);
    return { forgetBefore, forgetAfter, modelJson };
  } finally {
    model.dispose();
  }
}
