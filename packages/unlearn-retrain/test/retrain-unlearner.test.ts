import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  type DependencyContainer,
  Rng,
  type UnlearnData,
  createContainer,
  createMemoryLogger,
  createModel,
  runUnlearner,
} from '@unlearnjs/core';
import {
  describeUnlearnerContract,
  expectMaskedWeightsZero,
  modelState,
  registerTinyModel,
  setRandomMasks,
  createTinyUnlearnData,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultRetrainMilestones, registerRetrain, retrainOptionsSchema, retrainPlugin, retrainSchedule } from '../src/index.js';

describeUnlearnerContract({
  needs: ['retain'],
  plugin: retrainPlugin,
  use: [registerRetrain],
  validOptions: { epochs: 1, batchSize: 32 },
  invalidOptions: [
    ['epochs 0', { epochs: 0 }],
    ['lr 0', { lr: 0 }],
    ['an unknown schedule', { schedule: 'step' }],
    ['gamma 0', { gamma: 0 }],
    ['milestone 0', { milestones: [0] }],
    ['batchSize 0', { batchSize: 0 }],
    ['an unknown option', { unlearnLr: 0.1 }],
  ],
});

function unlearnData(classToForget: number): UnlearnData {
  return createTinyUnlearnData({ seed: 8, n: 120, classToForget });
}

function container(seed: number): DependencyContainer {
  return createContainer({ seed, use: [registerTinyModel, registerRetrain], logger: createMemoryLogger() });
}

describe('retrainSchedule', () => {
  it('keeps the proportions 91/182 and 136/182 (rounded) for runs too short to reach epoch 136', () => {
    const cases: Array<[number, number[]]> = [
      [136, [68, 102]],
      [91, [46, 68]],
      [10, [5, 7]],
      [3, [2, 2]],
      [1, [1, 1]],
    ];
    for (const [epochs, milestones] of cases) {
      expect(defaultRetrainMilestones(epochs), `${epochs} epochs`).toEqual(milestones);
      expect(retrainSchedule(retrainOptionsSchema.parse({ epochs }))).toMatchObject({ milestones });
    }
  });

  it("defaults to the reference command: 160 epochs, lr x0.1 at the reference's absolute epochs 91 and 136, batch 256", () => {
    const o = retrainOptionsSchema.parse({});
    expect(o).toMatchObject({
      epochs: 160,
      lr: 0.1,
      schedule: 'multistep',
      gamma: 0.1,
      batchSize: 256,
      momentum: 0.9,
      weightDecay: 5e-4,
      augment: true,
    });
    // The reference's MultiStepLR milestones are absolute (--decreasing_lr 91,136): its
    // 160-epoch retrain decays at 91 and 136, not at 50%/75% of 160.
    expect(retrainSchedule(o)).toEqual({ type: 'multistep', milestones: [91, 136], gamma: 0.1 });
    expect(retrainSchedule(retrainOptionsSchema.parse({ epochs: 182 }))).toMatchObject({ milestones: [91, 136] });
    expect(retrainSchedule(retrainOptionsSchema.parse({ epochs: 137 }))).toMatchObject({ milestones: [91, 136] });
    expect(retrainSchedule(retrainOptionsSchema.parse({ milestones: [5] }))).toMatchObject({ milestones: [5] });
    expect(retrainSchedule(retrainOptionsSchema.parse({ schedule: 'cosine' }))).toEqual({ type: 'cosine', minLr: 0 });
  });
});

describe('retrain', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('does not depend on the weights it is given, and keeps masked weights at zero', async () => {
    const data = unlearnData(0);
    const options = { epochs: 2, batchSize: 32 };
    async function run(initSeed: number) {
      // Different initial weights (another model seed), the same masks and the same run seed.
      const model = createModel(container(initSeed), 'tiny');
      try {
        const pruned = setRandomMasks(model, new Rng(5));
        const before = modelState(model).params;
        await runUnlearner(container(42), 'retrain', { model, data, options });
        expect(expectMaskedWeightsZero(model)).toBe(pruned);
        return { before, after: modelState(model) };
      } finally {
        model.dispose();
      }
    }
    const a = await run(1);
    const b = await run(2);
    expect(a.before).not.toEqual(b.before);
    expect(a.after).toEqual(b.after);
  });

  it('follows the multistep schedule per epoch', async () => {
    const model = createModel(container(0), 'tiny');
    try {
      const report = await runUnlearner(container(0), 'retrain', {
        model,
        data: unlearnData(3),
        options: { epochs: 4, lr: 0.1, batchSize: 64 },
      });
      const lrs = report.epochs.map((e) => e.lr as number);
      for (const [i, lr] of [0.1, 0.1, 0.01, 0.001].entries()) expect(lrs[i]).toBeCloseTo(lr, 10);
      expect(report.extra.schedule).toEqual({ type: 'multistep', milestones: [2, 3], gamma: 0.1 });
    } finally {
      model.dispose();
    }
  });

  for (const classToForget of [6, -1]) {
    it(`trains on D_r only with a cosine schedule (${classToForget < 0 ? 'random' : 'class-wise'} forgetting)`, async () => {
      const totals: number[] = [];
      const progress = {
        start: (_label: string, total: number) => {
          totals.push(total);
          return { tick: () => {}, end: () => {} };
        },
      };
      const c = createContainer({ seed: 0, use: [registerTinyModel, registerRetrain], logger: createMemoryLogger(), progress });
      const model = createModel(c, 'tiny');
      try {
        const data = unlearnData(classToForget);
        const report = await runUnlearner(c, 'retrain', { model, data, options: { epochs: 3, schedule: 'cosine', batchSize: 64 } });
        expect(totals).toEqual([data.retain.indices.length, data.retain.indices.length, data.retain.indices.length]);
        const lrs = report.epochs.map((e) => e.lr as number);
        for (let t = 0; t < 3; t++) expect(lrs[t]).toBeCloseTo(0.05 * (1 + Math.cos((Math.PI * t) / 3)), 10);
      } finally {
        model.dispose();
      }
    });
  }
});
