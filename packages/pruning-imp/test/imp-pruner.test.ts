import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type DataSplits, Rng, createModel, learningRateAt, loadModel, readCheckpoint, runPruner } from '@unlearnjs/core';
import { impPlugin, ompPlugin, pruneCheckpointFiles, registerPruningImp } from '@unlearnjs/pruning-imp';
import {
  createTinySplits,
  describePrunerContract,
  expectMaskedWeightsZero,
  expectNoTensorLeak,
  expectUnlearnError,
  modelState,
} from '@unlearnjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { abortingProgress, bnModel, container, recordingProgress, useCpu, values } from './fixtures.js';

useCpu();

// 60 images: 54 train (4 batches of 16 per epoch), 6 validation; 40 test.
const splits: DataSplits = createTinySplits({ seed: 0, n: 60 });
const FAST = { lr: 0.05, batchSize: 16, schedule: { type: 'constant' }, augment: false } as const;

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pruning-imp-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describePrunerContract({
  plugin: impPlugin,
  use: [registerPruningImp],
  validOptions: { rate: 0.3, pruningTimes: 2, epochs: 1, rewindEpoch: 1, ...FAST },
  invalidOptions: [
    ['rate 0', { rate: 0 }],
    ['rate 1', { rate: 1 }],
    ['rewindEpoch beyond the epochs', { epochs: 2, rewindEpoch: 3 }],
    ['pruningTimes 0', { pruningTimes: 0 }],
    ['a fractional epoch count', { epochs: 1.5 }],
    ['a misspelt option', { ratee: 0.5 }],
  ],
  data: { n: 40 },
  checkpoints: true,
});

describePrunerContract({
  plugin: ompPlugin,
  use: [registerPruningImp],
  validOptions: { rate: 0.9, epochs: 1, rewind: 'init', ...FAST },
  invalidOptions: [
    ['rate 0', { rate: 0 }],
    ['rate 1.2', { rate: 1.2 }],
    ['a rewind epoch beyond the epochs', { epochs: 2, rewind: 3 }],
    ['the default rewind epoch with 3 epochs', { epochs: 3 }],
    ['an unknown rewind', { rewind: 'start' }],
    ['a misspelt option', { ratee: 0.5 }],
  ],
  data: { n: 40 },
});

describe('imp', () => {
  it('reaches density (1 − rate)^k after k prunings, exactly round by round, and masked weights stay zero', async () => {
    const c = container(1);
    const model = createModel(c, 'tiny', { channels: 2 });
    try {
      const report = await runPruner(c, 'imp', {
        model,
        data: splits,
        options: { rate: 0.2, pruningTimes: 4, epochs: 1, rewindEpoch: 0, ...FAST },
      });
      expect(report.rounds.map((r) => r.round)).toEqual([0, 1, 2, 3]);
      let alive = report.rounds[0].sparsity.total;
      expect(report.rounds[0].sparsity.pruned).toBe(0);
      for (let k = 1; k < 4; k++) {
        alive -= Math.round(0.2 * alive);
        const s = report.rounds[k].sparsity;
        expect(s.total - s.pruned).toBe(alive);
        expect(Math.abs(1 - s.global - 0.8 ** k)).toBeLessThanOrEqual(k / s.total);
        expect(report.rounds[k].accuracy).toBeGreaterThanOrEqual(0);
      }
      expect(report.sparsity).toEqual(report.rounds[3].sparsity);
      expectMaskedWeightsZero(model);
    } finally {
      model.dispose();
    }
  });

  it('writes round checkpoints whose masked weights are zero after loading, and sparsity JSON files', async () => {
    const dir = await tempDir();
    const c = container(2);
    const model = createModel(c, 'tiny', { channels: 2 });
    const fresh = createModel(c, 'tiny', { channels: 2 });
    try {
      const report = await runPruner(c, 'imp', {
        model,
        data: splits,
        checkpointDir: dir,
        options: { rate: 0.5, pruningTimes: 3, epochs: 2, rewindEpoch: 1, ...FAST },
      });
      const files = pruneCheckpointFiles(dir);
      expect((await readdir(dir)).sort()).toEqual(
        [
          'rewind.ckpt',
          'round-0.ckpt',
          'round-1.ckpt',
          'round-2.ckpt',
          'sparsity-round-0.json',
          'sparsity-round-1.json',
          'sparsity-round-2.json',
        ].sort(),
      );
      for (const r of report.rounds) {
        expect(r.checkpoint).toBe(files.round(r.round));
        const meta = await loadModel(files.round(r.round), fresh);
        expect(meta.round).toBe(r.round);
        expect(meta.sparsity).toEqual(r.sparsity);
        expect(meta.accuracy).toBe(r.accuracy);
        expectMaskedWeightsZero(fresh);
        const json = JSON.parse(await readFile(files.sparsity(r.round), 'utf8'));
        expect(json.sparsity).toEqual(r.sparsity);
      }
      // The last round's checkpoint is the model as returned.
      expect(modelState(fresh)).toEqual(modelState(model));
    } finally {
      model.dispose();
      fresh.dispose();
    }
  });

  it('rewinds surviving weights and buffers exactly to the weights after epoch rewindEpoch of round 0', async () => {
    const dir = await tempDir();
    const options = { rate: 0.5, pruningTimes: 2, epochs: 2, rewindEpoch: 1, retrainEpochs: 0, ...FAST };
    const a = bnModel(new Rng(3));
    const b = bnModel(new Rng(3));
    try {
      await runPruner(container(3), 'imp', { model: a, data: splits, checkpointDir: dir, options });
      // The same run stopped after one epoch: its round 0 is the epoch-1 state of run a.
      const dirB = await tempDir();
      await runPruner(container(3), 'imp', {
        model: b,
        data: splits,
        checkpointDir: dirB,
        options: { ...options, pruningTimes: 1, epochs: 1, rewindEpoch: 0 },
      });
      const epoch1 = await readCheckpoint(pruneCheckpointFiles(dir).rewind);
      const epoch2 = await readCheckpoint(pruneCheckpointFiles(dir).round(0));
      let differs = 0;
      for (const [name, v] of a.params) {
        const now = values(v);
        const saved = epoch1.groups.weights.get(name)?.data as Float32Array;
        expect(Array.from(saved)).toEqual(Array.from(values(b.params.get(name))));
        const mask = a.masks.get(name) ? values(a.masks.get(name)) : new Float32Array(now.length).fill(1);
        // === (not toBe): a masked weight may be -0.
        const wrong = [...now.keys()].filter((i) => now[i] !== (mask[i] ? saved[i] : 0));
        expect(wrong).toEqual([]);
        const last = epoch2.groups.weights.get(name)?.data as Float32Array;
        for (let i = 0; i < now.length; i++) if (mask[i] && last[i] !== saved[i]) differs++;
      }
      expect(differs).toBeGreaterThan(0); // epoch 2 weights are not what round 1 starts from
      const bufferNow = values(a.buffers.get('bn.runningMean'));
      expect(Array.from(bufferNow)).toEqual(Array.from(epoch1.groups.weights.get('bn.runningMean')?.data ?? []));
      expect(Array.from(bufferNow)).toEqual(Array.from(values(b.buffers.get('bn.runningMean'))));
      expect(Array.from(bufferNow)).not.toEqual(Array.from(epoch2.groups.weights.get('bn.runningMean')?.data ?? []));
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('restarts later rounds with the lr schedule advanced by rewindEpoch epochs, for epochs − rewindEpoch epochs', async () => {
    const progress = recordingProgress();
    const c = container(4, { progress });
    const model = createModel(c, 'tiny', { channels: 2 });
    const schedule = { type: 'multistep' as const, milestones: [1, 3], gamma: 0.1 };
    try {
      await runPruner(c, 'imp', {
        model,
        data: splits,
        options: { ...FAST, rate: 0.2, pruningTimes: 2, epochs: 4, rewindEpoch: 2, schedule, evalSet: 'none' },
      });
      const epochs = progress.tasks.filter((t) => t.label.includes('epoch'));
      expect(epochs.map((t) => t.label)).toEqual([
        'imp round 0 epoch 1/4',
        'imp round 0 epoch 2/4',
        'imp round 0 epoch 3/4',
        'imp round 0 epoch 4/4',
        'imp round 1 epoch 1/2',
        'imp round 1 epoch 2/2',
      ]);
      const expected = [0, 1, 2, 3, 2, 3].map((e) => learningRateAt(0.05, e, 4, { ...schedule }));
      expect(epochs.map((t) => t.lr[0])).toEqual(expected);
    } finally {
      model.dispose();
    }
  });

  it('resumes a run aborted mid-round and ends with the same masks and weights as an uninterrupted one', async () => {
    const options = { rate: 0.3, pruningTimes: 3, epochs: 3, rewindEpoch: 1, ...FAST };
    const reference = bnModel(new Rng(5));
    try {
      await runPruner(container(5), 'imp', { model: reference, data: splits, options });
      const expected = modelState(reference);
      // 4 batches per epoch: round 0 = ticks 1..12, round 1 = 13..20, round 2 = 21..28.
      for (const abortAt of [6, 18, 26]) {
        const dir = await tempDir();
        const controller = new AbortController();
        const first = bnModel(new Rng(5));
        try {
          const c = container(5, { progress: abortingProgress(controller, abortAt), signal: controller.signal });
          await expectUnlearnError(
            () => runPruner(c, 'imp', { model: first, data: splits, options, checkpointDir: dir }),
            'UNLEARN_ABORTED',
          );
        } finally {
          first.dispose();
        }
        const files = await readdir(dir);
        expect(files.some((f) => f.endsWith('.train.ckpt'))).toBe(true);
        const resumed = bnModel(new Rng(5));
        try {
          const report = await runPruner(container(5), 'imp', { model: resumed, data: splits, options, checkpointDir: dir });
          expect(report.rounds.map((r) => r.round)).toEqual([0, 1, 2]);
          expect(modelState(resumed)).toEqual(expected);
          expect((await readdir(dir)).some((f) => f.endsWith('.train.ckpt'))).toBe(false);
        } finally {
          resumed.dispose();
        }
      }
    } finally {
      reference.dispose();
    }
  });

  it('refuses a checkpoint folder written with other options', async () => {
    const dir = await tempDir();
    const c = container(6);
    const model = createModel(c, 'tiny', { channels: 2 });
    try {
      const options = { rate: 0.3, pruningTimes: 2, epochs: 1, rewindEpoch: 0, ...FAST };
      await runPruner(c, 'imp', { model, data: splits, checkpointDir: dir, options });
      const err = await expectUnlearnError(
        () => runPruner(c, 'imp', { model, data: splits, checkpointDir: dir, options: { ...options, rate: 0.4 } }),
        'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      );
      expect(err.message).toContain('delete');
    } finally {
      model.dispose();
    }
  });

  it('names both values when rewindEpoch exceeds epochs, and needs data to train', async () => {
    const c = container(7);
    const model = createModel(c, 'tiny', { channels: 2 });
    try {
      const err = await expectUnlearnError(
        () => runPruner(c, 'imp', { model, data: splits, options: { epochs: 5, rewindEpoch: 8 } }),
        'UNLEARN_INVALID_OPTIONS',
      );
      expect(err.message).toContain('rewindEpoch (8)');
      expect(err.message).toContain('epochs (5)');
      await expectUnlearnError(() => runPruner(c, 'imp', { model, options: { epochs: 1, rewindEpoch: 0 } }), 'UNLEARN_DATA_MISSING');
      await expectUnlearnError(
        () => runPruner(c, 'imp', { model, data: splits, options: { epochs: 1, rewindEpoch: 0, names: ['dense.bias'] } }),
        'UNLEARN_INVALID_OPTIONS',
      );
    } finally {
      model.dispose();
    }
  });
});

describe('omp', () => {
  it('with epochs 0 only prunes a given model, without data: exact sparsity, survivors unchanged', async () => {
    const c = container(8);
    const model = createModel(c, 'tiny', { channels: 2 });
    try {
      const before = modelState(model);
      const tensors = tf.memory().numTensors;
      const report = await runPruner(c, 'omp', { model, options: { rate: 0.95, epochs: 0 } });
      expect(tf.memory().numTensors - tensors).toBe(model.masks.size); // only the masks the model now owns
      expect(report.rounds.map((r) => r.round)).toEqual([0, 1]);
      expect(report.sparsity.pruned).toBe(Math.round(0.95 * report.sparsity.total));
      for (const [name, w] of model.params) {
        const now = values(w);
        const mask = model.masks.get(name) ? values(model.masks.get(name)) : new Float32Array(now.length).fill(1);
        expect([...now.keys()].filter((i) => now[i] !== (mask[i] ? before.params[name][i] : 0))).toEqual([]);
      }
    } finally {
      model.dispose();
    }
  });

  it('trains dense, prunes once to the target, rewinds to init and retrains (round 1 is the sparse model)', async () => {
    const dir = await tempDir();
    const c = container(9);
    const model = createModel(c, 'tiny', { channels: 2 });
    const init = modelState(model);
    try {
      const report = await runPruner(c, 'omp', {
        model,
        data: splits,
        checkpointDir: dir,
        options: { rate: 0.9, epochs: 1, rewind: 'init', ...FAST },
      });
      expect(report.rounds[0].sparsity.pruned).toBe(0);
      expect(report.rounds[1].sparsity.pruned).toBe(Math.round(0.9 * report.sparsity.total));
      const rewind = await readCheckpoint(pruneCheckpointFiles(dir).rewind);
      for (const [name, v] of Object.entries(init.params))
        expect(Array.from(rewind.groups.weights.get(name)?.data ?? [])).toEqual(Array.from(v));
      expectMaskedWeightsZero(model);
    } finally {
      model.dispose();
    }
  });

  it('needs data when it trains', async () => {
    const c = container(10);
    const model = createModel(c, 'tiny', { channels: 2 });
    try {
      await expectNoTensorLeak(() =>
        expectUnlearnError(() => runPruner(c, 'omp', { model, options: { epochs: 1, rewind: 'init' } }), 'UNLEARN_DATA_MISSING'),
      );
    } finally {
      model.dispose();
    }
  });
});
