import '@tensorflow/tfjs-backend-cpu';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng,
  createContainer,
  createMemoryLogger,
  createModel,
  defaultCifar10Dir,
  loadModel,
  runServices,
  runUnlearner,
} from '@unlearnjs/core';
import { registerFt } from '@unlearnjs/unlearn-ft';
import { createTinySplits, expectMaskedWeightsZero, modelState, registerTinyModel } from '@unlearnjs/testing';
import { describe, expect, it } from 'vitest';
import { run as runGettingStarted } from './code/getting-started.js';
import { pruneAndFineTune } from './code/use-layerwise-magnitude.js';
import { SmoothFtUnlearner, registerSmoothFt, smoothFtOptionsSchema } from './code/label-smoothing-ft.js';
import { forgetWithNegGradPlus } from './code/use-neg-grad-plus.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { readTorchResNet18 } from '@unlearnjs/interop';
import { unlearnLayersModel } from './code/unlearn-layers-model.js';
import { unlearnTorchCheckpoint } from './code/unlearn-torch-checkpoint.js';
import { countGrid, expandGrid, gridSpecFromFlags, parseGridSpec } from '@unlearnjs/grid';
import { parse as parseYaml } from 'yaml';

// The guides' runnable code: every fenced block whose first line is `// docs/guides/code/<file>`
// is that file's content, byte for byte. The files are type-checked (docs/tsconfig.json) and
// run here; the plugin tests the guides show (`code/my-*/test/*.test.ts`) are vitest files of
// their own, picked up by the `docs/**/*.test.ts` include.

const guidesDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(guidesDir, '..', '..');
const codeDir = join(guidesDir, 'code');

/** Guides that must show runnable code (the others may, and are checked the same way). */
const GUIDES_WITH_CODE = ['getting-started.md', 'writing-an-unlearner.md', 'writing-a-pruner.md'];

interface CodeBlock {
  /** Repository-relative path named on the block's first line. */
  file: string;
  /** The block's text, first line included, with a final newline (as the file ends). */
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const fence = /^```[\w-]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) {
    const first = /^\/\/ (docs\/guides\/code\/\S+)\n/.exec(m[1]);
    if (first) blocks.push({ file: first[1], code: m[1], line: markdown.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

const guides = readdirSync(guidesDir)
  .filter((f) => f.endsWith('.md'))
  .sort();
const blocksByGuide = new Map(guides.map((g) => [g, codeBlocks(readFileSync(join(guidesDir, g), 'utf8'))]));

describe('guide code blocks equal the files under docs/guides/code', () => {
  for (const guide of GUIDES_WITH_CODE) {
    it(`${guide} exists and shows runnable code`, () => {
      expect(guides).toContain(guide);
      expect(blocksByGuide.get(guide)?.length ?? 0).toBeGreaterThan(0);
    });
  }

  for (const [guide, blocks] of blocksByGuide) {
    for (const block of blocks) {
      it(`${guide}:${block.line} is ${block.file}`, () => {
        const path = join(repoRoot, block.file);
        expect(existsSync(path), `${block.file} is missing: create it with the block's text`).toBe(true);
        expect(readFileSync(path, 'utf8'), `${guide}:${block.line} and ${block.file} differ; edit both`).toBe(block.code);
      });
    }
  }

  it('every file under docs/guides/code is shown in exactly one guide block', () => {
    const shown = [...blocksByGuide.values()].flat().map((b) => b.file);
    const files = filesUnder(codeDir).map((f) => relative(repoRoot, f).split(sep).join('/'));
    expect([...shown].sort()).toEqual([...new Set(shown)].sort());
    expect(files.sort()).toEqual([...shown].sort());
  });
});

const hasCifar10 = existsSync(join(defaultCifar10Dir(), 'data_batch_1.bin'));

describe.skipIf(!hasCifar10)('getting-started.md on the first CIFAR-10 records', () => {
  it('trains, unlearns with ft and measures the forget accuracy', async () => {
    const result = await runGettingStarted({ trainLimit: 300, epochs: 1 });
    for (const acc of [result.before, result.after]) {
      expect(acc).toBeGreaterThanOrEqual(0);
      expect(acc).toBeLessThanOrEqual(100);
    }
    expect(result.seconds).toBeGreaterThan(0);
  });
});

describe('writing-an-unlearner.md: smooth-ft on trainUnlearner', () => {
  it('is exactly ft with smoothing 0, differs with smoothing, refuses an empty retain set, and leaks nothing', async () => {
    await tf.setBackend('cpu');
    const splits = createTinySplits({ seed: 4, classToForget: 2 });
    const data = { forget: splits.forget, retain: splits.retain, validation: splits.validation, classToForget: splits.classToForget };
    const container = createContainer({ seed: 4, use: [registerTinyModel, registerFt, registerSmoothFt], logger: createMemoryLogger() });
    const base = createModel(container, 'tiny');
    const numTensors = tf.memory().numTensors;
    // The same start and the same services (data order, augmentation) as `ft` gets: only the loss differs.
    const run = async (unlearn: (model: typeof base) => Promise<unknown>) => {
      const model = base.clone(new Rng(0));
      await unlearn(model);
      const state = modelState(model);
      model.dispose();
      return state;
    };
    const smooth = (smoothing: number) => (model: typeof base) =>
      new SmoothFtUnlearner().unlearn({
        model,
        data,
        options: smoothFtOptionsSchema.parse({ epochs: 2, lr: 0.05, smoothing }),
        services: runServices(container, 'unlearn:ft'),
      });
    const ft = await run((model) => runUnlearner(container, 'ft', { model, data, options: { epochs: 2, lr: 0.05 } }));
    expect(await run(smooth(0))).toEqual(ft);
    expect(await run(smooth(0.3))).not.toEqual(ft);
    expect(tf.memory().numTensors).toBe(numTensors);
    await expect(
      runUnlearner(container, 'smooth-ft', { model: base, data: { ...data, retain: { ...data.retain, indices: new Int32Array(0) } } }),
    ).rejects.toMatchObject({ code: 'UNLEARN_EMPTY_DATA' });
    await expect(runUnlearner(container, 'smooth-ft', { model: base, data, options: { smoothing: 1 } })).rejects.toMatchObject({
      code: 'UNLEARN_INVALID_OPTIONS',
    });
    base.dispose();
  });
});

describe('writing-an-unlearner.md: forgetWithNegGradPlus', () => {
  // What NegGrad+ does to the forget loss is tested by the guide's own plugin test
  // (code/my-unlearner/test); this runs the app-side snippet end to end on the tiny fixtures.
  it('runs neg-grad-plus through runUnlearner and measures the model', async () => {
    await tf.setBackend('cpu');
    const splits = createTinySplits({ seed: 2, classToForget: 3 });
    const container = createContainer({ seed: 2, use: [registerTinyModel], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny');
    try {
      const numTensors = tf.memory().numTensors;
      const result = await forgetWithNegGradPlus(model, splits);
      expect(tf.memory().numTensors).toBe(numTensors);
      for (const acc of [result.forgetBefore, result.forgetAfter, result.retainAfter]) {
        expect(acc).toBeGreaterThanOrEqual(0);
        expect(acc).toBeLessThanOrEqual(100);
      }
      expect(result.losses).toHaveLength(3);
      for (const loss of result.losses) expect(Number.isFinite(loss)).toBe(true);
      expect(result.seconds).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });
});

describe('writing-a-pruner.md: pruneAndFineTune', () => {
  it('prunes the same share of every layer, keeps it through training, and saves weights and masks', async () => {
    await tf.setBackend('cpu');
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-guide-'));
    const splits = createTinySplits({ seed: 3 });
    const container = createContainer({ seed: 3, use: [registerTinyModel], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny', { hidden: 16 });
    const reloaded = createModel(container, 'tiny', { hidden: 16 });
    try {
      const numTensors = tf.memory().numTensors;
      const saveTo = join(dir, 'layerwise.ckpt');
      const result = await pruneAndFineTune(model, splits, { rate: 0.8, epochs: 1, saveTo });
      // No leak: the only new tensors are the three masks the model now holds.
      expect(tf.memory().numTensors).toBe(numTensors + model.masks.size);
      expect(model.masks.size).toBe(3);
      expect(result.sparsity.layers).toHaveLength(3);
      for (const layer of result.sparsity.layers) expect(layer.pruned).toBe(Math.round(0.8 * layer.size));
      expect(expectMaskedWeightsZero(model)).toBe(result.sparsity.pruned);
      expect(result.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(result.testAccuracy).toBeLessThanOrEqual(100);
      await loadModel(saveTo, reloaded);
      expect(modelState(reloaded)).toEqual(modelState(model));
    } finally {
      model.dispose();
      reloaded.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bring-your-own-model.md', () => {
  it('unlearns a pruned PyTorch ResNet-18 state_dict with FT and exports it with its masks', async () => {
    await tf.setBackend('cpu');
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-guide-'));
    // Written by PyTorch (scripts/make-torch-fixtures.py): the reference's ResNet-18 at width 4, pruned.
    const file = join(repoRoot, 'packages', 'interop', 'test', 'fixtures', 'resnet18-w4-pruned.safetensors');
    const splits = createTinySplits({ seed: 5, n: 24, testSize: 4, classToForget: 2 });
    try {
      const out = join(dir, 'unlearned.safetensors');
      const result = await unlearnTorchCheckpoint(file, splits, out);
      expect(result.maskSource).toBe('weight_mask');
      const exported = await readTorchResNet18(out);
      // The exported weights are zero exactly where the checkpoint was pruned.
      expect(exported.maskSource).toBe('zeros');
      const original = await readTorchResNet18(file);
      for (const [name, mask] of original.masks) expect(Array.from(exported.masks.get(name)?.data ?? [])).toEqual(Array.from(mask.data));
      for (const acc of [result.forgetBefore, result.forgetAfter]) expect(acc).toBeGreaterThanOrEqual(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('unlearns a tfjs-layers CNN from its model.json and exports a model tf.loadLayersModel reads', async () => {
    await tf.setBackend('cpu');
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-guide-'));
    const user = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [32, 32, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same' }),
        tfl.layers.batchNormalization(),
        tfl.layers.reLU(),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    try {
      // What model.save('file://dir') writes in Node: model.json + weights.bin.
      await user.save(
        tf.io.withSaveHandler(async (a) => {
          writeFileSync(join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
          writeFileSync(
            join(dir, 'model.json'),
            JSON.stringify({ modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }),
          );
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const splits = createTinySplits({ seed: 6, n: 60, classToForget: 4 });
      const numTensors = tf.memory().numTensors;
      const result = await unlearnLayersModel(join(dir, 'model.json'), splits, join(dir, 'unlearned'));
      expect(tf.memory().numTensors).toBe(numTensors);
      for (const acc of [result.forgetBefore, result.forgetAfter]) expect(acc).toBeGreaterThanOrEqual(0);
      const json = JSON.parse(readFileSync(result.modelJson, 'utf8')) as tf.io.ModelJSON;
      const bytes = readFileSync(join(dir, 'unlearned', json.weightsManifest[0].paths[0]));
      const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const reloaded = await tfl.loadLayersModel(
        tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }),
      );
      const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1);
      const [before, after] = [user.predict(x) as tf.Tensor, reloaded.predict(x) as tf.Tensor];
      expect(after.shape).toEqual([2, 10]);
      // FT changed the model; its outputs are still probabilities.
      expect(Array.from(after.dataSync())).not.toEqual(Array.from(before.dataSync()));
      expect(tf.sum(after).dataSync()[0]).toBeCloseTo(2, 4);
      tf.dispose([x, before, after]);
      reloaded.dispose();
    } finally {
      user.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('running-a-grid.md', () => {
  const guide = readFileSync(join(guidesDir, 'running-a-grid.md'), 'utf8');

  it('shows a valid spec file, its flag form expands to the same cells, and the counts it states are right', () => {
    const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(guide)?.[1];
    expect(yamlBlock).toBeDefined();
    const fromFile = parseGridSpec(parseYaml(yamlBlock as string));
    expect(countGrid(fromFile)).toMatchObject({ dense: 3, prune: 3, rows: 72 });
    expect(guide).toMatch(/3 dense models, 3 pruned models\s+and 72 rows/);
    // The flags example, joined across its line continuation.
    const command = /```sh\n(unlearn grid --name[\s\S]*?)```/.exec(guide)?.[1].replace(/\\\n\s*/g, '') ?? '';
    const words = command.trim().split(/\s+/).slice(2);
    const flags: Record<string, string> = {};
    for (let i = 0; i < words.length; i += 2) flags[words[i].slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = words[i + 1];
    const fromFlags = parseGridSpec(gridSpecFromFlags(flags), { keyStyle: 'flag' });
    expect(expandGrid(fromFlags).map((c) => c.id)).toEqual(expandGrid(fromFile).map((c) => c.id));
  });
});
