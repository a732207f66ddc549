import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  Model,
  Rng,
  createContainer,
  initBackend,
  createMemoryLogger,
  defaultCifar10Dir,
  loadCifar10,
  runEvaluator,
  silentProgress,
  subsetOf,
  train,
} from '@unlearnjs/core';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import { tinyModelDefinition } from '@unlearnjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerEvalMia } from '../src/index.js';

const hasData = existsSync(join(defaultCifar10Dir(), 'data_batch_1.bin'));

// A small model trained many epochs on 150 real CIFAR-10 images memorises them: its confidence
// on them is near 1, and far lower on images it never saw. The attack must tell the two apart.
describe.runIf(hasData)('svc-mia on a small real-data model', () => {
  beforeAll(async () => {
    await initBackend('wasm', { logger: createMemoryLogger(), extensions: [wasmTrainingBackend] });
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gives high efficacy for images never trained on and low efficacy for memorised ones', async () => {
    const trainSet = await loadCifar10({ split: 'train', limit: 300, quiet: true });
    const testSet = await loadCifar10({ split: 'test', limit: 150, quiet: true });
    const idx = (from: number, n: number) => Int32Array.from({ length: n }, (_, i) => from + i);
    const retain = subsetOf(trainSet, idx(0, 150)); // trained on
    const memorised = subsetOf(trainSet, idx(150, 60)); // trained on too
    const unseen = subsetOf(trainSet, idx(210, 60)); // never trained on
    const test = subsetOf(testSet, idx(0, 150));

    const model = new Model(tinyModelDefinition({ channels: 16, hidden: 128 }), new Rng(1));
    const rng = new Rng(2);
    await train(model, {
      data: subsetOf(trainSet, idx(0, 210)),
      epochs: 60,
      batchSize: 30,
      lr: 0.05,
      weightDecay: 0,
      augment: false,
      services: { logger: createMemoryLogger(), progress: silentProgress, signal: new AbortController().signal, rng },
    });

    const container = createContainer({ seed: 3, use: [registerEvalMia] });
    const efficacy = async (forget: typeof retain) =>
      (
        await runEvaluator(container, 'svc-mia', {
          model,
          data: { forget, retain, test, classToForget: -1 },
          options: { features: ['confidence'], privacy: false },
        })
      ).metrics['MIA-efficacy'];
    const onMemorised = await efficacy(memorised);
    const onUnseen = await efficacy(unseen);
    model.dispose();
    expect(onMemorised).toBeLessThan(25);
    expect(onUnseen).toBeGreaterThan(60);
  }, 120_000);
});
