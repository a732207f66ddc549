import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  Model,
  type ProgressReporter,
  Rng,
  type Subset,
  type UnlearnData,
  createContainer,
  createMemoryLogger,
  createModel,
  parseOptions,
  runUnlearner,
  silentProgress,
  toTensor,
} from '@unlearnjs/core';
import {
  type ModelState,
  createTinyUnlearnData,
  describeUnlearnerContract,
  expectMaskedWeightsZero,
  expectNoTensorLeak,
  expectUnlearnError,
  modelState,
  registerTinyModel,
  setRandomMasks,
} from '@unlearnjs/testing';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ScrubOptions, distillKl, registerScrub, scrubOptionsSchema, scrubPlugin } from '../src/index.js';

describeUnlearnerContract({
  needs: ['forget', 'retain'],
  plugin: scrubPlugin,
  use: [registerScrub],
  validOptions: { epochs: 2, msteps: 1, lr: 0.01, batchSize: 16, forgetBatchSize: 8 },
  invalidOptions: [
    ['temperature 0', { temperature: 0 }],
    ['a negative alpha', { alpha: -0.1 }],
    ['a negative gamma', { gamma: -1 }],
    ['a fractional msteps', { msteps: 1.5 }],
    ['a negative msteps', { msteps: -1 }],
    ['lr 0', { lr: 0 }],
    ['lrDecayRate 0', { lrDecayRate: 0 }],
    ['lrDecayRate above 1', { lrDecayRate: 2 }],
    ['a negative milestone', { milestones: [-1] }],
    ['forgetBatchSize 0', { forgetBatchSize: 0 }],
    ['a fractional batchSize', { batchSize: 2.5 }],
    ['momentum above 1', { momentum: 1.5 }],
    ['an unknown option (SCRUB has no beta term here)', { beta: 0.1 }],
  ],
});

const data = createTinyUnlearnData({ seed: 4, n: 120, classToForget: 2 });

/** KL(teacher ‖ student) at temperature 4 over a set, in inference mode. */
function klOn(student: Model, teacher: Model, subset: Subset): number {
  const { x, y } = toTensor(subset);
  try {
    return tf.tidy(() => distillKl(student.forward(x), teacher.forward(x), 4).dataSync()[0]);
  } finally {
    tf.dispose([x, y]);
  }
}

/** Records every model `clone` makes (the teacher) with its state when made and when disposed. */
interface CloneRecord {
  made: ModelState;
  disposed?: ModelState;
}
function recordClones(): CloneRecord[] {
  const records: CloneRecord[] = [];
  const clone = Model.prototype.clone;
  vi.spyOn(Model.prototype, 'clone').mockImplementation(function (this: Model, rng: Rng) {
    const copy = clone.call(this, rng);
    const record: CloneRecord = { made: modelState(copy) };
    const dispose = copy.dispose.bind(copy);
    copy.dispose = () => {
      record.disposed = modelState(copy);
      dispose();
    };
    records.push(record);
    return copy;
  });
  return records;
}

async function run(seed: number, options: Partial<ScrubOptions>, setup?: (model: Model) => void) {
  const container = createContainer({ seed, use: [registerTinyModel, registerScrub], logger: createMemoryLogger() });
  const model = createModel(container, 'tiny', { hidden: 8 });
  setup?.(model);
  const before = modelState(model);
  const report = await runUnlearner(container, 'scrub', { model, data, options });
  return { model, before, report };
}

describe('scrub', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("defaults to SCRUB's CIFAR-10 settings", () => {
    expect(parseOptions(scrubOptionsSchema, {}, 'test')).toEqual({
      epochs: 3,
      lr: 5e-4,
      msteps: 2,
      temperature: 4,
      alpha: 0.001,
      gamma: 0.99,
      milestones: [3, 5, 9],
      lrDecayRate: 0.1,
      forgetBatchSize: 512,
      batchSize: 256,
      momentum: 0.9,
      weightDecay: 5e-4,
      augment: false,
      evalEvery: 0,
    });
  });

  it('distils from a frozen copy of the model that stays bit-identical and is disposed, leaking no tensor', async () => {
    const clones = recordClones();
    await expectNoTensorLeak(async () => {
      const { model, before } = await run(1, { epochs: 3, msteps: 2, lr: 0.05, batchSize: 16, forgetBatchSize: 8 });
      try {
        expect(clones).toHaveLength(1);
        const [teacher] = clones;
        // The teacher starts as an exact copy of the model and ends exactly as it started.
        expect(teacher.made.params).toEqual(before.params);
        expect(teacher.made.buffers).toEqual(before.buffers);
        expect(teacher.disposed).toEqual(teacher.made);
        // ... while the student moved.
        expect(modelState(model).params).not.toEqual(before.params);
      } finally {
        model.dispose();
      }
    });
  });

  it('disposes the teacher and leaks nothing when the run is aborted mid-pass', async () => {
    const clones = recordClones();
    await expectNoTensorLeak(async () => {
      const controller = new AbortController();
      // Abort after the first step of the first pass.
      const progress: ProgressReporter = { start: () => ({ tick: () => controller.abort(), end: () => {} }) };
      const container = createContainer({
        seed: 1,
        use: [registerTinyModel, registerScrub],
        logger: createMemoryLogger(),
        progress,
        signal: controller.signal,
      });
      const model = createModel(container, 'tiny');
      try {
        await expectUnlearnError(
          () => runUnlearner(container, 'scrub', { model, data, options: { epochs: 2, batchSize: 8, forgetBatchSize: 4 } }),
          'UNLEARN_ABORTED',
        );
        expect(clones).toHaveLength(1);
        expect(clones[0].disposed).toBeDefined();
      } finally {
        model.dispose();
      }
    });
  });

  it('max passes leave the student farther from the teacher on D_f than distillation on D_r alone (msteps 0)', async () => {
    const klAfter = async (msteps: number) => {
      // Same seed, same initial weights and retain batches: only the max passes differ.
      const { model, before } = await run(2, { epochs: 4, msteps, lr: 0.05, batchSize: 16, forgetBatchSize: 8 });
      const teacher = model.clone(new Rng(0));
      try {
        teacher.load(new Map(Object.entries(before.params).map(([n, v]) => [n, tf.tensor(v, model.params.get(n)?.shape)])));
        return klOn(model, teacher, data.forget);
      } finally {
        model.dispose();
        teacher.dispose();
      }
    };
    const withMax = await klAfter(3);
    const withoutMax = await klAfter(0);
    expect(withMax).toBeGreaterThan(withoutMax);
  });

  it('reports a max pass for the first msteps epochs, the min objective per epoch, and decays lr at the milestones', async () => {
    const { model, report } = await run(3, {
      epochs: 3,
      msteps: 2,
      lr: 0.01,
      milestones: [1, 2],
      lrDecayRate: 0.5,
      batchSize: 32,
      forgetBatchSize: 8,
    });
    try {
      expect(report.method).toBe('scrub');
      expect(report.epochs.map((e) => e.lr)).toEqual([0.01, 0.005, 0.0025]);
      expect(report.extra.maxPasses).toBe(2);
      expect(report.extra.forgetKl).toHaveLength(2);
      expect(report.extra.retainKl).toHaveLength(3);
      expect(report.extra.retainCe).toHaveLength(3);
      expect(report.extra.forgetSize).toBe(data.forget.indices.length);
      expect(report.extra.retainSize).toBe(data.retain.indices.length);
      const ce = report.extra.retainCe as number[];
      const kl = report.extra.retainKl as number[];
      for (const [i, e] of report.epochs.entries()) {
        const objective = 0.99 * ce[i] + 0.001 * kl[i];
        expect(Math.abs(e.loss - objective)).toBeLessThan(1e-6 * Math.max(1, objective));
      }
    } finally {
      model.dispose();
    }
  });

  it('is deterministic under a seed, and another seed gives other weights', async () => {
    const options = { epochs: 2, msteps: 1, lr: 0.05, batchSize: 16, forgetBatchSize: 8, augment: true };
    const states: ModelState[] = [];
    for (const seed of [5, 5, 6]) {
      const { model } = await run(seed, options, (m) => {
        // Same initial weights for every run: only the run's seed (order, augmentation) differs.
        m.load(new Map([...m.params].map(([n, v]) => [n, tf.mul(tf.onesLike(v), 0.01 * (n.length % 5))])));
      });
      states.push(modelState(model));
      model.dispose();
    }
    expect(states[1]).toEqual(states[0]);
    expect(states[2].params).not.toEqual(states[0].params);
  });

  it('keeps masked weights exactly zero, through max and min passes', async () => {
    const { model } = await run(7, { epochs: 2, msteps: 2, lr: 0.1, batchSize: 8, forgetBatchSize: 4, augment: true }, (m) => {
      expect(setRandomMasks(m, new Rng(7))).toBeGreaterThan(0);
    });
    try {
      expect(expectMaskedWeightsZero(model)).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });
});

describe('scrub on an empty set it needs', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const set of ['forget', 'retain'] as const) {
    it(`refuses an empty ${set} set with UNLEARN_EMPTY_DATA naming the method and the set, before touching the model`, async () => {
      const container = createContainer({ seed: 1, use: [registerTinyModel, registerScrub], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      try {
        const full = createTinyUnlearnData({ seed: 3, n: 60, classToForget: -1, numToForget: 6 });
        const empty: UnlearnData = { ...full, [set]: { source: full[set].source, indices: new Int32Array(0) } };
        const unlearner = scrubPlugin.create(container);
        const before = modelState(model);
        const err = await expectNoTensorLeak(() =>
          expectUnlearnError(
            () =>
              unlearner.unlearn({
                model,
                data: empty,
                options: parseOptions(unlearner.optionsSchema, { epochs: 1 }, 'test'),
                services: { logger: createMemoryLogger(), progress: silentProgress, signal: new AbortController().signal, rng: new Rng(1) },
              }),
            'UNLEARN_EMPTY_DATA',
          ),
        );
        expect(err.message).toContain('"scrub"');
        expect(err.message).toContain(`${set} set`);
        expect(err.details).toMatchObject({ method: 'scrub', set });
        expect(modelState(model)).toEqual(before);
      } finally {
        model.dispose();
      }
    });
  }
});
