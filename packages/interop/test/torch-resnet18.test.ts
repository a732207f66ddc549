import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type Model, createContainer, createModel, loadModel, registerCoreModels, saveModel } from '@unlearnjs/core';
import { expectNoTensorLeak, expectUnlearnError } from '@unlearnjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SafetensorsArray,
  type SafetensorsWritable,
  encodeSafetensors,
  exportTorchResNet18,
  importTorchResNet18,
  readSafetensors,
  readTorchResNet18,
  readTorchResNet18Masks,
  registerInterop,
  torchResNet18StateDict,
} from '../src/index.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const PRUNED = path.join(FIXTURES, 'resnet18-w4-pruned.safetensors');
const PLAIN_F16 = path.join(FIXTURES, 'resnet18-w4-plain-f16.safetensors');
const IO = path.join(FIXTURES, 'resnet18-w4-io.safetensors');
/** The bar: logits within 1e-4 of PyTorch's, relative to their scale. */
const TOLERANCE = 1e-4;

let dir: string;
let pruned: Map<string, SafetensorsArray>;
let io: Map<string, SafetensorsArray>;
/** The fixture's 4 images, NHWC (PyTorch stores NCHW). */
let inputs: tf.Tensor4D;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unlearnjs-torch-'));
  pruned = (await readSafetensors(PRUNED)).tensors;
  io = (await readSafetensors(IO)).tensors;
  const x = io.get('inputs') as SafetensorsArray;
  inputs = tf.tidy(() => tf.transpose(tf.tensor4d(x.data as Float32Array, x.shape as [number, number, number, number]), [0, 2, 3, 1]));
});
afterAll(async () => {
  inputs.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

/** max |a - b| / max |b|: the largest error relative to the reference's scale. */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

function logits(model: Model, training: boolean): Float32Array {
  return tf.tidy(() => model.forward(inputs, { training }).dataSync() as Float32Array);
}

function values(map: ReadonlyMap<string, SafetensorsArray>, name: string): Float32Array {
  const a = map.get(name);
  if (!a) throw new Error(`fixture has no ${name}`);
  return a.data as Float32Array;
}

/** The bits of a float array, so that -0 and 0 or two NaNs compare as stored. */
const bits = (a: ArrayLike<number>) => new Uint32Array(Float32Array.from(a).buffer);

/** The reference's conv and BatchNorm module names with our names, for the fixture's width. */
const CONVS: Array<[string, string]> = [['conv1', 'stem.conv']];
const BATCH_NORMS: Array<[string, string]> = [['bn1', 'stem.bn']];
for (let s = 1; s <= 4; s++) {
  for (let b = 0; b < 2; b++) {
    CONVS.push([`layer${s}.${b}.conv1`, `stage${s}.block${b}.conv1`], [`layer${s}.${b}.conv2`, `stage${s}.block${b}.conv2`]);
    BATCH_NORMS.push([`layer${s}.${b}.bn1`, `stage${s}.block${b}.bn1`], [`layer${s}.${b}.bn2`, `stage${s}.block${b}.bn2`]);
    if (s > 1 && b === 0) {
      CONVS.push([`layer${s}.0.downsample.0`, `stage${s}.block0.shortcut.conv`]);
      BATCH_NORMS.push([`layer${s}.0.downsample.1`, `stage${s}.block0.shortcut.bn`]);
    }
  }
}

/** A conv mask or weight of the model back in PyTorch's [out, in, kh, kw] order. */
function toOihw(t: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.transpose(t, [3, 2, 0, 1]).dataSync() as Float32Array);
}

/** Bytes of a state_dict made from the pruned fixture by `edit`. */
function editedFixture(edit: (m: Map<string, SafetensorsWritable>) => void): Uint8Array {
  const m = new Map<string, SafetensorsWritable>(
    [...pruned].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array | Int32Array }]),
  );
  edit(m);
  return encodeSafetensors(m);
}

/** The fixture with `weight_orig` + `weight_mask` turned into plain weights (and masks kept when `keepMasks`). */
function plainFixture(keepMasks: boolean): Uint8Array {
  return editedFixture((m) => {
    for (const [conv] of CONVS) {
      const orig = values(pruned, `${conv}.weight_orig`);
      const mask = values(pruned, `${conv}.weight_mask`);
      m.delete(`${conv}.weight_orig`);
      m.set(`${conv}.weight`, { shape: pruned.get(`${conv}.weight_orig`)?.shape ?? [], data: orig.map((v, i) => v * mask[i]) });
      if (!keepMasks) m.delete(`${conv}.weight_mask`);
    }
  });
}

describe('importing the reference ResNet-18 that PyTorch pruned', () => {
  it('reads weight_orig + weight_mask: masks identical to PyTorch, weights their product, width from the file', async () => {
    const { model, maskSource, config, sparsity, numBatchesTracked, metadata } = await importTorchResNet18(PRUNED);
    try {
      expect(model.arch).toBe('torch-resnet18');
      expect(config).toEqual({ width: 4, numClasses: 10 });
      expect(maskSource).toBe('weight_mask');
      expect(sparsity).toBeCloseTo(0.5, 3);
      expect(numBatchesTracked).toBe(3);
      expect(metadata).toEqual({ format: 'pt' });
      expect(model.masks.size).toBe(CONVS.length);
      for (const [torch, ours] of CONVS) {
        expect(bits(toOihw(model.masks.get(`${ours}.kernel`) as tf.Tensor)), torch).toEqual(bits(values(pruned, `${torch}.weight_mask`)));
        const orig = values(pruned, `${torch}.weight_orig`);
        const mask = values(pruned, `${torch}.weight_mask`);
        expect(bits(toOihw(model.params.get(`${ours}.kernel`) as tf.Tensor)), torch).toEqual(bits(orig.map((v, i) => v * mask[i])));
      }
      for (const [torch, ours] of BATCH_NORMS) {
        expect(model.buffers.get(`${ours}.runningVar`)?.dataSync(), torch).toEqual(values(pruned, `${torch}.running_var`));
        expect(model.params.get(`${ours}.gamma`)?.dataSync(), torch).toEqual(values(pruned, `${torch}.weight`));
      }
      const fc = tf.tidy(() => tf.transpose(model.params.get('fc.kernel') as tf.Tensor).dataSync());
      expect(fc).toEqual(values(pruned, 'fc.weight'));
    } finally {
      model.dispose();
    }
  });

  it('computes the logits PyTorch computes, in eval and in train mode, and updates BatchNorm statistics as PyTorch does', async () => {
    const { model } = await importTorchResNet18(PRUNED);
    try {
      const evalDiff = relativeDifference(logits(model, false), values(io, 'logits_eval'));
      const trainDiff = relativeDifference(logits(model, true), values(io, 'logits_train'));
      console.log(
        `torch-resnet18 vs PyTorch, max relative logit difference: eval ${evalDiff.toExponential(2)}, train ${trainDiff.toExponential(2)}`,
      );
      expect(evalDiff).toBeLessThan(TOLERANCE);
      expect(trainDiff).toBeLessThan(TOLERANCE);
      let statsDiff = 0;
      for (const [torch, ours] of BATCH_NORMS) {
        statsDiff = Math.max(
          statsDiff,
          relativeDifference(model.buffers.get(`${ours}.runningMean`)?.dataSync() ?? [], values(io, `after_train.${torch}.running_mean`)),
          relativeDifference(model.buffers.get(`${ours}.runningVar`)?.dataSync() ?? [], values(io, `after_train.${torch}.running_var`)),
        );
      }
      expect(statsDiff).toBeLessThan(TOLERANCE);
      expect(values(io, `after_train.bn1.num_batches_tracked`)[0]).toBe(4);
    } finally {
      model.dispose();
    }
  });

  it("core's resnet18 (tfjs 'same' padding at the stride-2 convs) does not: that is why the default is torch-resnet18", async () => {
    const { model } = await importTorchResNet18(PRUNED, { arch: 'resnet18' });
    try {
      expect(model.arch).toBe('resnet18');
      const evalDiff = relativeDifference(logits(model, false), values(io, 'logits_eval'));
      console.log(`core resnet18 vs PyTorch, max relative logit difference: eval ${evalDiff.toExponential(2)}`);
      expect(evalDiff).toBeGreaterThan(100 * TOLERANCE);
    } finally {
      model.dispose();
    }
  });

  it('reads a plain F16 state_dict: the mask from the exact zeros, logits as PyTorch computes them from the F16 weights', async () => {
    const { model, maskSource, sparsity } = await importTorchResNet18(PLAIN_F16);
    try {
      expect(maskSource).toBe('zeros');
      expect(sparsity).toBeCloseTo(0.5, 3);
      for (const [torch, ours] of CONVS) {
        expect(bits(toOihw(model.masks.get(`${ours}.kernel`) as tf.Tensor)), torch).toEqual(bits(values(pruned, `${torch}.weight_mask`)));
      }
      const evalDiff = relativeDifference(logits(model, false), values(io, 'plain_logits_eval'));
      console.log(`F16 plain state_dict vs PyTorch, max relative logit difference: eval ${evalDiff.toExponential(2)}`);
      expect(evalDiff).toBeLessThan(TOLERANCE);
    } finally {
      model.dispose();
    }
    const dense = await importTorchResNet18(PLAIN_F16, { maskFromZeros: false });
    expect(dense.maskSource).toBe('none');
    expect(dense.model.masks.size).toBe(0);
    dense.model.dispose();
  });

  it('reads <conv>.weight_mask next to plain weights, and masks from a separate file, as mask', async () => {
    const both = await readTorchResNet18(plainFixture(true));
    expect(both.maskSource).toBe('mask');
    const maskFile = encodeSafetensors(
      new Map(
        CONVS.map(([c]) => [
          `${c}.weight_mask`,
          { shape: pruned.get(`${c}.weight_mask`)?.shape ?? [], data: values(pruned, `${c}.weight_mask`) },
        ]),
      ),
    );
    const separate = await readTorchResNet18(plainFixture(false), { mask: maskFile, maskFromZeros: false });
    expect(separate.maskSource).toBe('mask');
    const fromPairs = await readTorchResNet18(PRUNED);
    for (const state of [both, separate]) {
      expect([...state.masks.keys()]).toEqual([...fromPairs.masks.keys()]);
      for (const [name, m] of fromPairs.masks) expect(bits(state.masks.get(name)?.data ?? []), name).toEqual(bits(m.data));
      for (const [name, w] of fromPairs.weights) expect(bits(state.weights.get(name)?.data ?? []), name).toEqual(bits(w.data));
    }
    const masks = await readTorchResNet18Masks(maskFile, { width: 4, numClasses: 10 });
    for (const [name, m] of fromPairs.masks) expect(bits(masks.get(name)?.data ?? []), name).toEqual(bits(m.data));
    await expectUnlearnError(() => readTorchResNet18(PRUNED, { mask: maskFile }), 'UNLEARN_CHECKPOINT_INCOMPATIBLE');
    await expectUnlearnError(() => readTorchResNet18Masks(maskFile, { width: 8, numClasses: 10 }), 'UNLEARN_CHECKPOINT_INCOMPATIBLE');
  });

  it('accepts the shortcut.* name of the projection, a DataParallel module. prefix, and no normalize buffers', async () => {
    const renamed = editedFixture((m) => {
      for (const [k, v] of [...m]) {
        m.delete(k);
        if (!k.startsWith('normalize.')) m.set(`module.${k.replace('.downsample.', '.shortcut.')}`, v);
      }
    });
    const a = await readTorchResNet18(renamed);
    const b = await readTorchResNet18(PRUNED);
    expect([...a.weights.keys()].sort()).toEqual([...b.weights.keys()].sort());
    for (const [name, w] of b.weights) expect(bits(a.weights.get(name)?.data ?? []), name).toEqual(bits(w.data));
  });

  it('builds the model on a container, and a checkpoint of it reloads through the torch-resnet18 plugin', async () => {
    const container = createContainer({ seed: 3, use: [registerCoreModels, registerInterop] });
    const { model } = await importTorchResNet18(PRUNED, { container });
    const file = path.join(dir, 'imported.ckpt');
    try {
      await saveModel(file, model);
      const reloaded = createModel(container, 'torch-resnet18', { width: 4, numClasses: 10 });
      try {
        await loadModel(file, reloaded);
        expect(logits(reloaded, false)).toEqual(logits(model, false));
        expect(reloaded.masks.size).toBe(model.masks.size);
      } finally {
        reloaded.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('leaks no tensor, importing or failing to', async () => {
    await expectNoTensorLeak(async () => {
      const { model } = await importTorchResNet18(PRUNED);
      model.dispose();
      await expectUnlearnError(() => importTorchResNet18(editedFixture((m) => m.delete('fc.bias'))), 'UNLEARN_CHECKPOINT_INCOMPATIBLE');
    });
  });
});

describe('a state_dict that does not fit', () => {
  it('lists every missing, unexpected and mis-shaped key in one coded error naming the file', async () => {
    const bytes = editedFixture((m) => {
      m.delete('layer1.0.bn1.running_var');
      m.delete('layer3.0.conv2.weight_orig');
      m.set('layer9.0.conv1.weight', { shape: [1], data: Float32Array.of(1) });
      m.set('fc.bias', { shape: [11], data: new Float32Array(11) });
      m.set('bn1.weight', { shape: [4], data: Int32Array.of(1, 1, 1, 1) });
    });
    const err = await expectUnlearnError(
      () => importTorchResNet18(bytes, { name: 'edited.safetensors' }),
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
    );
    expect(err.details.file).toBe('edited.safetensors');
    expect(err.details.missing).toEqual(['layer1.0.bn1.running_var', 'layer3.0.conv2.weight']);
    expect(err.details.unexpected).toEqual(['layer9.0.conv1.weight']);
    expect((err.details.misShaped as Array<{ name: string }>).map((m) => m.name)).toEqual(['bn1.weight', 'fc.bias']);
    for (const name of ['layer1.0.bn1.running_var', 'layer3.0.conv2.weight', 'layer9.0.conv1.weight', 'fc.bias', 'bn1.weight'])
      expect(err.message).toContain(name);
  });

  it('refuses a weight_orig without its weight_mask, and a weight next to a weight_orig', async () => {
    const noMask = await expectUnlearnError(
      () => readTorchResNet18(editedFixture((m) => m.delete('conv1.weight_mask'))),
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
    );
    expect(noMask.details.missing).toEqual(['conv1.weight_mask']);
    const both = await expectUnlearnError(
      () => readTorchResNet18(editedFixture((m) => m.set('conv1.weight', m.get('conv1.weight_orig') as SafetensorsWritable))),
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
    );
    expect(both.details.unexpected).toEqual(['conv1.weight']);
  });

  it('refuses a mask value other than 0 or 1, a non-finite weight, another normalisation, an unknown shape of conv1', async () => {
    const halfMask = editedFixture((m) => {
      const mask = Float32Array.from(values(pruned, 'conv1.weight_mask'));
      mask[5] = 0.5;
      m.set('conv1.weight_mask', { shape: [4, 3, 3, 3], data: mask });
    });
    const err = await expectUnlearnError(() => readTorchResNet18(halfMask, { name: 'half.safetensors' }), 'UNLEARN_MASK_MISMATCH');
    expect(err.details).toMatchObject({ file: 'half.safetensors', tensor: 'conv1.weight_mask', index: 5, value: 0.5 });
    const nan = editedFixture((m) => {
      const w = Float32Array.from(values(pruned, 'layer2.1.bn2.running_var'));
      w[0] = Number.NaN;
      m.set('layer2.1.bn2.running_var', { shape: [8], data: w });
    });
    expect((await expectUnlearnError(() => readTorchResNet18(nan), 'UNLEARN_NON_FINITE_WEIGHTS')).details.tensor).toBe(
      'layer2.1.bn2.running_var',
    );
    const imagenet = editedFixture((m) => m.set('normalize.mean', { shape: [3], data: Float32Array.of(0.485, 0.456, 0.406) }));
    expect((await expectUnlearnError(() => readTorchResNet18(imagenet), 'UNLEARN_CHECKPOINT_INCOMPATIBLE')).details.tensor).toBe(
      'normalize.mean',
    );
    const wide = editedFixture((m) => m.set('conv1.weight_orig', { shape: [600, 3, 3, 3], data: new Float32Array(600 * 27) }));
    expect((await expectUnlearnError(() => readTorchResNet18(wide), 'UNLEARN_CHECKPOINT_INCOMPATIBLE')).details.width).toBe(600);
    const notResnet = encodeSafetensors(new Map([['w', { shape: [2], data: Float32Array.of(1, 2) }]]));
    expect((await expectUnlearnError(() => readTorchResNet18(notResnet), 'UNLEARN_CHECKPOINT_INCOMPATIBLE')).details.missing).toEqual([
      'conv1.weight',
      'fc.weight',
    ]);
  });
});

describe('exporting', () => {
  it('writes the reference names and layouts; re-importing is bit-identical, with masks applied or as weight_orig + weight_mask', async () => {
    const { model, numBatchesTracked } = await importTorchResNet18(PRUNED);
    try {
      const original = await readTorchResNet18(PRUNED);
      for (const masks of ['applied', 'weight_orig'] as const) {
        const file = path.join(dir, `exported-${masks}.safetensors`);
        await expectNoTensorLeak(() => exportTorchResNet18(model, file, { masks, numBatchesTracked }));
        const written = (await readSafetensors(file)).tensors;
        const expectedKeys = [...pruned.keys()]
          .map((k) => (masks === 'applied' ? k.replace('.weight_orig', '.weight') : k))
          .filter((k) => masks !== 'applied' || !k.endsWith('_mask'));
        expect([...written.keys()].sort()).toEqual(expectedKeys.sort());
        for (const [k, v] of written) {
          const source = pruned.get(k) ?? pruned.get(k.replace('.weight', '.weight_orig'));
          expect(v.shape, k).toEqual(source?.shape);
          expect(v.dtype, k).toBe(k.endsWith('num_batches_tracked') ? 'I64' : 'F32');
        }
        expect(written.get('bn1.num_batches_tracked')?.data).toEqual(Int32Array.of(3));
        expect(written.get('normalize.std')?.data).toEqual(values(pruned, 'normalize.std'));
        const back = await readTorchResNet18(file);
        expect(back.maskSource).toBe(masks === 'applied' ? 'zeros' : 'weight_mask');
        expect([...back.weights.keys()]).toEqual([...original.weights.keys()]);
        for (const [name, w] of original.weights) expect(bits(back.weights.get(name)?.data ?? []), name).toEqual(bits(w.data));
        for (const [name, m] of original.masks) expect(bits(back.masks.get(name)?.data ?? []), name).toEqual(bits(m.data));
      }
    } finally {
      model.dispose();
    }
  });

  it('refuses another architecture, an attached adapter and a bad num_batches_tracked', async () => {
    const container = createContainer({ seed: 1, use: [registerCoreModels] });
    const vit = createModel(container, 'vit', { dim: 16, depth: 1, heads: 2, mlpDim: 16 });
    await expectUnlearnError(() => torchResNet18StateDict(vit), 'UNLEARN_INVALID_OPTIONS');
    vit.dispose();
    const model = createModel(container, 'resnet18', { width: 4 });
    await expectUnlearnError(() => torchResNet18StateDict(model, { numBatchesTracked: -1 }), 'UNLEARN_INVALID_OPTIONS');
    const extra = tf.variable(tf.zeros([1]));
    model.addExtraParam('lora.x.A', extra);
    await expectUnlearnError(() => torchResNet18StateDict(model), 'UNLEARN_INVALID_OPTIONS');
    model.dispose();
  });
});
