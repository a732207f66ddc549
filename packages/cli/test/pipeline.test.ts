import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PipelineConfig, presetConfig, runPipeline } from '@unlearnjs/cli';
import { createMemoryLogger, defaultCifar10Dir, isUnlearnError, readCheckpoint } from '@unlearnjs/core';
import { ompOptionsSchema } from '@unlearnjs/pruning-imp';
import { describe, expect, it } from 'vitest';

const hasData = existsSync(join(defaultCifar10Dir(), 'data_batch_1.bin'));

describe('presets', () => {
  it("the paper preset prunes as the reference's OMP: train 182, prune 95%, rewind to epoch 8, retrain 182", () => {
    const { prune, train } = presetConfig('paper', 'resnet18');
    expect(prune?.trainsDense).toBe(true);
    const omp = ompOptionsSchema.parse(prune?.options);
    expect(omp).toMatchObject({ rate: 0.95, epochs: 182, rewind: 8, retrainEpochs: 182, lr: 0.1, batchSize: 256 });
    // Round 0 is the dense model, with the dense recipe.
    expect(omp.schedule).toEqual({ type: 'multistep', milestones: [91, 136], gamma: 0.1 });
    expect(train).toMatchObject({ epochs: 182, lr: 0.1, batchSize: 256 });
  });

  it('the quick, standard and ci presets say that they prune the trained model without rewinding', () => {
    for (const name of ['quick', 'standard', 'ci'] as const) {
      const { prune } = presetConfig(name, 'resnet18');
      expect(prune?.trainsDense ?? false).toBe(false);
      expect(prune?.options).toMatchObject({ epochs: 0 });
    }
  });
});

describe('preset options are checked before any data loads', () => {
  // A folder without CIFAR-10: a run whose options all pass stops at loading the data.
  const run = (config: PipelineConfig) =>
    runPipeline(
      {
        ...config,
        backend: 'cpu',
        quiet: true,
        outDir: mkdtempSync(join(tmpdir(), 'unlearn-preset-')),
        data: { ...config.data, dir: tmpdir() },
      },
      { logger: createMemoryLogger() },
    ).catch((e: unknown) => e);

  for (const name of ['ci', 'quick', 'standard', 'paper'] as const) {
    it(`the ${name} preset's train, pruner, unlearner and LoRA options pass their schemas (the run gets as far as the data)`, async () => {
      const err = await run(presetConfig(name, 'resnet18'));
      expect(isUnlearnError(err, 'UNLEARN_DATA_MISSING'), String(err)).toBe(true);
    });
  }

  it('a bad dense-training option fails with UNLEARN_INVALID_OPTIONS before the data loads', async () => {
    const config = presetConfig('standard', 'resnet18');
    const err = await run({ ...config, train: { ...config.train, labelSmoothing: 2 } });
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS'), String(err)).toBe(true);
    expect(String(err)).toMatch(/labelSmoothing/);
  });

  it('the standard preset is a ResNet-18 recipe: the ViT is refused with a coded error naming the presets it can run', () => {
    let err: unknown;
    try {
      presetConfig('standard', 'vit');
    } catch (e) {
      err = e;
    }
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    expect(String(err)).toMatch(/--preset quick/);
  });
});

describe.runIf(hasData)('a pipeline whose pruner trains the dense model (trainsDense)', () => {
  it('uses round 0 as the dense model and round 1 as the sparse one, and never runs train separately', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearn-omp-rewind-'));
    const logger = createMemoryLogger();
    const config: PipelineConfig = {
      ...presetConfig('ci', 'resnet18'),
      model: { width: 4 },
      data: { trainLimit: 300, testLimit: 100, validationSize: 30, classToForget: 0 },
      prune: { pruner: 'omp', trainsDense: true, options: { rate: 0.95, epochs: 2, rewind: 1, retrainEpochs: 1, lr: 0.05, batchSize: 64 } },
      methods: [{ method: 'ft', options: { epochs: 1, lr: 0.01 } }],
      evaluation: { mia: false, maxRetain: 50 },
      backend: 'wasm',
      jobs: 1,
      quiet: true,
      outDir: dir,
    };
    const res = await runPipeline(config, { logger });
    const log = logger.lines.join('\n');
    expect(log).toMatch(/omp trained the dense model \(round 0\)/);
    expect(log).not.toMatch(/train dense|train: test accuracy/);
    expect(existsSync(join(dir, 'models', 'dense.train.ckpt'))).toBe(false);
    const dense = await readCheckpoint(join(dir, 'models', 'dense.ckpt'));
    const round0 = await readCheckpoint(join(dir, 'prune', 'round-0.ckpt'));
    expect(dense.groups.weights).toEqual(round0.groups.weights);
    expect(res.results.model.sparsity).toBeCloseTo(0.95, 2);
    expect(res.results.rows.map((r) => `${r.method}:${r.sparsity === 'dense' ? 'dense' : 'sparse'}`)).toEqual([
      'original:dense',
      'ft:dense',
      'original:sparse',
      'ft:sparse',
    ]);
  }, 600_000);
});
