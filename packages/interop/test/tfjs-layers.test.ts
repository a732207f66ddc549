import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import {
  createContainer,
  createModel,
  fullSubset,
  loadModel,
  runEvaluator,
  runPruner,
  runUnlearner,
  saveModel,
  toTensor,
} from '@unlearnjs/core';
import { registerEvalMia } from '@unlearnjs/eval-mia';
import { registerLora } from '@unlearnjs/lora';
import { registerPruningImp } from '@unlearnjs/pruning-imp';
import {
  createSyntheticImageSet,
  createTinySplits,
  describeModelContract,
  expectMaskedWeightsZero,
  expectNoTensorLeak,
  expectUnlearnError,
  unlearnDataOf,
} from '@unlearnjs/testing';
import { registerFt } from '@unlearnjs/unlearn-ft';
import { registerGa } from '@unlearnjs/unlearn-ga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exportLayersModel,
  importLayersModel,
  layersModelArtifacts,
  readLayersModelArtifacts,
  registerInterop,
  tfjsLayersModelPlugin,
  toLayersModel,
} from '../src/index.js';

/** A user's small CNN: conv, BatchNorm, ReLU, pooling, dropout, dense with a softmax. */
function userCnn(seed: number): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed + s });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [32, 32, 3],
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        useBias: false,
        kernelInitializer: init(1),
      }),
      tfl.layers.batchNormalization(),
      tfl.layers.reLU(),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }),
      tfl.layers.averagePooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dropout({ rate: 0.2 }),
      tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}

/** A functional model with a residual Add, a Concatenate and a DepthwiseConv2D. */
function functionalCnn(): tfl.LayersModel {
  const input = tfl.input({ shape: [32, 32, 3] });
  const scaled = tfl.layers.rescaling({ scale: 2, offset: -1 }).apply(input) as tfl.SymbolicTensor;
  const a = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(scaled) as tfl.SymbolicTensor;
  const b = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(a) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization({ momentum: 0.9 }).apply(sum) as tfl.SymbolicTensor;
  const cat = tfl.layers.concatenate().apply([bn, a]) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(cat) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: 5 }).apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logits });
}

/** Save a layers model as tfjs-node's `model.save('file://dir')` does: model.json + weights.bin. */
async function saveToDir(model: tfl.LayersModel, dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await fs.writeFile(path.join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return path.join(dir, 'model.json');
}

/** Load model.json + its one weights file as a browser's `tf.loadLayersModel(url)` would, by tfjs itself. */
async function loadFromDir(modelJson: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(await fs.readFile(modelJson, 'utf8')) as tf.io.ModelJSON;
  const [group] = json.weightsManifest;
  const bytes = await fs.readFile(path.join(path.dirname(modelJson), group.paths[0]));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData }));
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

const use = [registerInterop, registerPruningImp, registerFt, registerGa, registerLora, registerEvalMia];
let dir: string;
let x: tf.Tensor4D;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unlearnjs-layers-'));
  x = toTensor(fullSubset(createSyntheticImageSet({ n: 6, seed: 9 }))).x;
});
afterAll(async () => {
  x.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('a user tfjs-layers CNN: trained, saved, imported, pruned, unlearned, exported, reloaded', () => {
  it('round-trips with identical outputs and masked weights zero', async () => {
    const splits = createTinySplits({ seed: 2, n: 50, testSize: 20, classToForget: 1 });
    const user = userCnn(5);
    // Trained briefly with model.fit, as its author would.
    user.compile({ optimizer: tf.train.sgd(0.05), loss: 'sparseCategoricalCrossentropy' });
    const { x: tx, y: ty } = toTensor(splits.retain);
    const labels = tf.cast(ty, 'float32');
    await user.fit(tx, labels, { epochs: 1, batchSize: 32, verbose: 0 });
    tf.dispose([tx, ty, labels]);
    // Layer names are numbered per process by tfjs (conv2d_1, conv2d_2, ...): take them from the model.
    const names = user.weights.map((w) => w.originalName);
    const kernels = names.filter((n) => n.endsWith('/kernel'));
    const movingMean = names.find((n) => n.endsWith('/moving_mean')) as string;
    const classifier = kernels[kernels.length - 1];
    const saved = await saveToDir(user, path.join(dir, 'user'));

    const container = createContainer({ seed: 3, use });
    const { model, finalSoftmax } = await importLayersModel(saved, { container });
    try {
      expect(finalSoftmax).toBe(true);
      expect(model.arch).toBe('tfjs-layers');
      // The imported model computes what the user's model computes (its forward leaves out the softmax).
      const expected = user.predict(x) as tf.Tensor;
      const ours = tf.tidy(() => tf.softmax(model.forward(x)));
      expect(maxAbsDiff(ours, expected)).toBeLessThan(1e-6);
      tf.dispose([expected, ours]);
      const pruned = await runPruner(container, 'omp', { model, data: splits, options: { rate: 0.5, epochs: 0 } });
      expect(pruned.sparsity.global).toBeGreaterThan(0.4);
      expect([...model.masks.keys()].sort()).toEqual([...kernels].sort());
      expect(kernels.length).toBe(3);
      const data = unlearnDataOf(splits);
      const before = model.snapshot();
      await runUnlearner(container, 'ga', { model, data, options: { epochs: 1, lr: 0.01, batchSize: 32 } });
      await runUnlearner(container, 'ft', { model, data, options: { epochs: 1, lr: 0.01, batchSize: 32 } });
      await runUnlearner(container, 'ft', {
        model,
        data,
        options: { epochs: 1, lr: 0.01, batchSize: 32 },
        adapter: { name: 'lora', options: { rank: 2 } },
      });
      expectMaskedWeightsZero(model);
      // Unlearning changed the weights and, in training mode, BatchNorm's moving statistics.
      expect(maxAbsDiff(before.get(movingMean) as tf.Tensor, model.buffers.get(movingMean) as tf.Tensor)).toBeGreaterThan(0);
      expect(maxAbsDiff(before.get(classifier) as tf.Tensor, model.params.get(classifier) as tf.Tensor)).toBeGreaterThan(0);
      tf.dispose([...before.values()]);
      const evalResult = await runEvaluator(container, 'accuracy', {
        model,
        data: { forget: splits.forget, retain: splits.retain, test: splits.test, classToForget: 1 },
      });
      expect(Object.keys(evalResult.metrics)).toContain('UA');
      const { modelJson } = await exportLayersModel(model, path.join(dir, 'unlearned'));
      const reloaded = await loadFromDir(modelJson);
      try {
        const out = reloaded.predict(x) as tf.Tensor;
        const mine = tf.tidy(() => tf.softmax(model.forward(x)));
        expect(maxAbsDiff(out, mine)).toBe(0);
        tf.dispose([out, mine]);
        // Masked weights are exactly zero in the exported model.
        const byName = new Map(reloaded.weights.map((w) => [w.originalName, w.read()]));
        for (const [name, mask] of model.masks) {
          const w = (byName.get(name) as tf.Tensor).dataSync();
          const m = mask.dataSync();
          let zeros = 0;
          for (let i = 0; i < m.length; i++) {
            if (m[i] === 0) {
              expect(w[i] === 0).toBe(true); // ±0
              zeros++;
            }
          }
          expect(zeros).toBeGreaterThan(0);
        }
        // Imported again: the same weights, bit for bit, and the masks found again from exact zeros is not
        // claimed: a layers model.json has no masks.
        const again = await importLayersModel(modelJson);
        try {
          for (const [name, v] of [...model.params, ...model.buffers]) {
            expect(Array.from((again.model.params.get(name) ?? again.model.buffers.get(name))?.dataSync() ?? []), name).toEqual(
              Array.from(v.dataSync()),
            );
          }
        } finally {
          again.model.dispose();
        }
      } finally {
        reloaded.dispose();
      }
    } finally {
      model.dispose();
      user.dispose();
    }
  }, 120_000);

  it('updates BatchNorm moving statistics in training mode as tfjs-layers does', async () => {
    const user = functionalCnn();
    try {
      const { model } = await importLayersModel(user);
      try {
        // Eval mode.
        const expected = user.predict(x) as tf.Tensor;
        const ours = tf.tidy(() => model.forward(x));
        expect(maxAbsDiff(ours, expected)).toBeLessThan(1e-5);
        // Training mode: batch statistics, and the moving statistics move by the layer's momentum.
        const theirs = tf.tidy(() => user.apply(x, { training: true }) as tf.Tensor);
        const mine = tf.tidy(() => model.forward(x, { training: true }));
        expect(maxAbsDiff(mine, theirs)).toBeLessThan(1e-5);
        const moving = user.weights.filter((w) => w.originalName.includes('moving'));
        expect(moving.length).toBe(2);
        for (const w of moving) {
          const b = model.buffers.get(w.originalName) as tf.Tensor;
          expect(maxAbsDiff(b, w.read()), w.originalName).toBeLessThan(1e-6);
        }
        expect(
          tf.tidy(() => tf.sum(tf.abs(tf.sub(model.buffers.get(moving[0].originalName) as tf.Tensor, 0))).dataSync()[0]),
        ).toBeGreaterThan(0);
        tf.dispose([expected, ours, theirs, mine]);
        // toLayersModel: an in-memory tf.LayersModel again.
        const back = await toLayersModel(model);
        const y1 = back.predict(x) as tf.Tensor;
        const y2 = tf.tidy(() => model.forward(x));
        expect(maxAbsDiff(y1, y2)).toBeLessThan(1e-6);
        tf.dispose([y1, y2]);
        back.dispose();
      } finally {
        model.dispose();
      }
    } finally {
      user.dispose();
    }
  });

  it('reloads a checkpoint of an imported model by name, and leaks no tensors', async () => {
    const user = userCnn(1);
    try {
      const container = createContainer({ seed: 0, use });
      await expectNoTensorLeak(async () => {
        const { model } = await importLayersModel(user, { container });
        const file = path.join(dir, 'imported.ckpt');
        await saveModel(file, model);
        const again = createModel(container, 'tfjs-layers', model.config as { topology: Record<string, unknown> });
        await loadModel(file, again);
        const kernel = model.classifier.kernel;
        expect(maxAbsDiff(again.params.get(kernel) as tf.Tensor, model.params.get(kernel) as tf.Tensor)).toBe(0);
        const artifacts = layersModelArtifacts(again);
        expect(artifacts.weightSpecs?.map((w) => w.name)).toEqual(user.weights.map((w) => w.originalName));
        model.dispose();
        again.dispose();
      });
    } finally {
      user.dispose();
    }
  });

  it('reads model.json files and refuses what it cannot run, with coded errors', async () => {
    const saved = await saveToDir(functionalCnn(), path.join(dir, 'functional'));
    const artifacts = await readLayersModelArtifacts(saved);
    expect(artifacts.weightSpecs?.length).toBeGreaterThan(0);
    await expectUnlearnError(() => readLayersModelArtifacts(path.join(dir, 'nope.json')), 'UNLEARN_CHECKPOINT_MISSING');
    await fs.writeFile(path.join(dir, 'functional', 'weights.bin'), new Uint8Array(8));
    await expectUnlearnError(() => readLayersModelArtifacts(saved), 'UNLEARN_CHECKPOINT_CORRUPT');

    const unsupported = tfl.sequential({
      layers: [
        tfl.layers.upSampling2d({ inputShape: [32, 32, 3] }),
        tfl.layers.layerNormalization(),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3 }),
      ],
    });
    const err = await expectUnlearnError(() => importLayersModel(unsupported), 'UNLEARN_CHECKPOINT_INCOMPATIBLE');
    expect(err.details.unsupported).toEqual(['UpSampling2D', 'LayerNormalization']);
    expect(err.message).toMatch(/UpSampling2D, LayerNormalization\. Supported layer classes: InputLayer, Conv2D/);
    unsupported.dispose();
    const sigmoid = tfl.sequential({
      layers: [tfl.layers.flatten({ inputShape: [32, 32, 3] }), tfl.layers.dense({ units: 3, activation: 'sigmoid' })],
    });
    await expectUnlearnError(() => importLayersModel(sigmoid), 'UNLEARN_CHECKPOINT_INCOMPATIBLE');
    sigmoid.dispose();
    const container = createContainer({ seed: 0, use });
    const resnet = createModel(container, 'torch-resnet18', { width: 4 });
    expect(() => layersModelArtifacts(resnet)).toThrow(/Only tfjs-layers models/);
    resnet.dispose();
  });
});

const contractModel = userCnn(0);
describeModelContract({
  plugin: tfjsLayersModelPlugin,
  validOptions: { topology: contractModel.toJSON(null, false) as unknown as Record<string, unknown> },
  invalidOptions: [
    ['no topology', {}],
    ['not a layers topology', { topology: { layers: [] } }],
  ],
});
contractModel.dispose();
