import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng,
  type UnlearnData,
  createContainer,
  createMemoryLogger,
  createModel,
  parseOptions,
  runUnlearner,
  silentProgress,
} from '@unlearnjs/core';
import {
  createTinyUnlearnData,
  describeUnlearnerContract,
  expectMaskedWeightsZero,
  expectNoTensorLeak,
  expectUnlearnError,
  modelState,
  registerTinyModel,
  setRandomMasks,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type * as saliency from '../src/saliency-map.js';
import { registerSalun, salunEpochPasses, salunOptionsSchema, salunPlugin } from '../src/index.js';

// Record the saliency mask the unlearner computes (and still use it for real), to check which
// weights moved against it.
const masksSeen: Record<string, Uint8Array>[] = [];
vi.mock('../src/saliency-map.js', async (importOriginal) => {
  const actual = await importOriginal<typeof saliency>();
  return {
    ...actual,
    saliencyMask: (...args: Parameters<typeof actual.saliencyMask>) => {
      const result = actual.saliencyMask(...args);
      masksSeen.push(Object.fromEntries([...result.masks].map(([name, m]) => [name, Uint8Array.from(m.dataSync() as Uint8Array)])));
      return result;
    },
  };
});

describeUnlearnerContract({
  needs: ['forget', 'retain'],
  plugin: salunPlugin,
  use: [registerSalun],
  validOptions: { epochs: 1, batchSize: 32 },
  invalidOptions: [
    ['ratio 0', { ratio: 0 }],
    ['ratio above 1', { ratio: 1.5 }],
    ['a string ratio', { ratio: '0.5' }],
    ['lr 0', { lr: 0 }],
    ['negative epochs', { epochs: -2 }],
    ['momentum above 1', { momentum: 1.5 }],
    ['an unknown option', { threshold: 0.5 }],
  ],
});

function unlearnData(classToForget: number): UnlearnData {
  return createTinyUnlearnData({ seed: 5, n: 120, classToForget });
}

/** The bits of each float32 value, so that -0 and 0 (and NaN payloads) count as different. */
function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

describe('salun', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it("has SalUn's CIFAR-10 defaults", () => {
    expect(salunOptionsSchema.parse({})).toEqual({
      epochs: 10,
      lr: 0.013,
      ratio: 0.5,
      batchSize: 256,
      momentum: 0.9,
      weightDecay: 5e-4,
      augment: true,
      evalEvery: 0,
    });
  });

  for (const classToForget of [2, -1]) {
    it(`changes only salient weights: the others stay bit-identical, pruned ones exactly 0 (${classToForget < 0 ? 'random' : 'class-wise'} forgetting)`, async () => {
      const container = createContainer({ seed: 3, use: [registerTinyModel, registerSalun], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      try {
        const pruned = setRandomMasks(model, new Rng(9), 0.7);
        const before = modelState(model);
        masksSeen.length = 0;
        // A large weight decay and momentum: were the update of non-salient weights not masked, they would shrink.
        const report = await runUnlearner(container, 'salun', {
          model,
          data: unlearnData(classToForget),
          options: { epochs: 2, batchSize: 16, ratio: 0.3, lr: 0.05, weightDecay: 0.05, momentum: 0.9 },
        });
        expect(masksSeen).toHaveLength(1);
        const salient = masksSeen[0];
        const after = modelState(model);
        const total = Object.values(before.params).reduce((n, p) => n + p.length, 0);
        expect(report.extra.weights).toBe(total);
        expect(report.extra.salient).toBe(Math.floor(total * 0.3));
        expect(Object.values(salient).reduce((n, m) => n + m.reduce((s, v) => s + v, 0), 0)).toBe(Math.floor(total * 0.3));
        let moved = 0;
        let frozenChecked = 0;
        for (const name of Object.keys(before.params)) {
          const b = bits(before.params[name]);
          const a = bits(after.params[name]);
          const m = salient[name];
          for (let i = 0; i < b.length; i++) {
            if (m[i] === 0) {
              frozenChecked++;
              expect(a[i], `${name}[${i}] is not salient but moved`).toBe(b[i]);
            } else if (a[i] !== b[i]) moved++;
          }
        }
        expect(frozenChecked).toBe(total - Math.floor(total * 0.3));
        expect(moved).toBeGreaterThan(0);
        expect(expectMaskedWeightsZero(model)).toBe(pruned);
        expect(after.masks).toEqual(before.masks);
        // No weight transform is left on the model: every effective weight is the variable itself.
        for (const [name, v] of model.params) expect(tf.tidy(() => model.effectiveWeight(name) === v)).toBe(true);
      } finally {
        model.dispose();
      }
    });
  }

  it('with ratio 1 updates every unpruned weight (plain random labels)', async () => {
    const container = createContainer({ seed: 3, use: [registerTinyModel, registerSalun], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny');
    try {
      const before = modelState(model).params;
      const report = await runUnlearner(container, 'salun', {
        model,
        data: unlearnData(1),
        options: { epochs: 1, batchSize: 16, ratio: 1 },
      });
      const after = modelState(model).params;
      expect(report.extra.salient).toBe(report.extra.weights);
      // Every kernel moves somewhere (weight decay alone moves every nonzero weight).
      for (const name of Object.keys(before)) expect(after[name], name).not.toEqual(before[name]);
    } finally {
      model.dispose();
    }
  });

  it('is deterministic under a seed, and another seed draws other labels', async () => {
    async function weightsAfter(seed: number) {
      const container = createContainer({ seed, use: [registerTinyModel, registerSalun], logger: createMemoryLogger() });
      // The same initial weights for every seed: only the unlearner's randomness differs.
      const model = createModel(createContainer({ seed: 1, use: [registerTinyModel], logger: createMemoryLogger() }), 'tiny');
      try {
        await runUnlearner(container, 'salun', { model, data: unlearnData(-1), options: { epochs: 1, batchSize: 16 } });
        return modelState(model).params;
      } finally {
        model.dispose();
      }
    }
    const a = await weightsAfter(7);
    expect(await weightsAfter(7)).toEqual(a);
    expect(await weightsAfter(8)).not.toEqual(a);
  });

  it('leaks no tensor and leaves no weight transform when aborted mid-training', async () => {
    await expectNoTensorLeak(async () => {
      const controller = new AbortController();
      const progress = {
        start: (label: string) => ({
          tick: () => {
            if (label.includes('epoch')) controller.abort();
          },
          end: () => {},
        }),
      };
      const container = createContainer({
        seed: 2,
        use: [registerTinyModel, registerSalun],
        logger: createMemoryLogger(),
        progress,
        signal: controller.signal,
      });
      const model = createModel(container, 'tiny');
      try {
        const before = modelState(model).params;
        masksSeen.length = 0;
        await expectUnlearnError(
          () => runUnlearner(container, 'salun', { model, data: unlearnData(0), options: { epochs: 3, batchSize: 16 } }),
          'UNLEARN_ABORTED',
        );
        // The step taken before the abort stays (runUnlearner restores only diverged runs), but
        // the non-salient weights are back at their original values.
        const after = modelState(model).params;
        expect(masksSeen).toHaveLength(1);
        for (const name of Object.keys(before)) {
          const m = masksSeen[0][name];
          const b = bits(before[name]);
          const a = bits(after[name]);
          for (let i = 0; i < b.length; i++) if (m[i] === 0) expect(a[i], `${name}[${i}]`).toBe(b[i]);
        }
        expect(after).not.toEqual(before);
        for (const [name, v] of model.params) expect(tf.tidy(() => model.effectiveWeight(name) === v)).toBe(true);
      } finally {
        model.dispose();
      }
    });
  });

  it('refuses a model with an adapter attached, before touching it', async () => {
    const container = createContainer({ seed: 2, use: [registerTinyModel, registerSalun], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny');
    try {
      model.addExtraParam('adapter.a', tf.variable(tf.zeros([2])));
      const before = modelState(model);
      await expectUnlearnError(
        () => runUnlearner(container, 'salun', { model, data: unlearnData(0), options: { epochs: 1 } }),
        'UNLEARN_INVALID_OPTIONS',
      );
      expect(modelState(model)).toEqual(before);
    } finally {
      model.dispose();
    }
  });

  it('rejects a model with fewer outputs than the data has classes', async () => {
    const container = createContainer({ seed: 2, use: [registerTinyModel, registerSalun], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny', { numClasses: 3 });
    try {
      await expectUnlearnError(
        () => runUnlearner(container, 'salun', { model, data: unlearnData(7), options: { epochs: 1 } }),
        'UNLEARN_INVALID_OPTIONS',
      );
    } finally {
      model.dispose();
    }
  });

  for (const set of ['forget', 'retain'] as const) {
    it(`refuses an empty ${set} set with UNLEARN_EMPTY_DATA, before touching the model`, async () => {
      const container = createContainer({ seed: 1, use: [registerTinyModel, registerSalun], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      try {
        const full = createTinyUnlearnData({ seed: 3, n: 60, classToForget: -1, numToForget: 6 });
        const data: UnlearnData = { ...full, [set]: { source: full[set].source, indices: new Int32Array(0) } };
        const unlearner = salunPlugin.create(container);
        const before = modelState(model);
        const err = await expectUnlearnError(
          () =>
            unlearner.unlearn({
              model,
              data,
              options: parseOptions(unlearner.optionsSchema, { epochs: 1 }, 'test'),
              services: { logger: createMemoryLogger(), progress: silentProgress, signal: new AbortController().signal, rng: new Rng(1) },
            }),
          'UNLEARN_EMPTY_DATA',
        );
        expect(err.message).toContain('"salun"');
        expect(err.details).toMatchObject({ method: 'salun', set });
        expect(modelState(model)).toEqual(before);
      } finally {
        model.dispose();
      }
    });
  }
});

describe('salunEpochPasses', () => {
  it('trains D_f with labels drawn afresh each epoch over all classes, then D_r with its own', () => {
    const { forget, retain } = unlearnData(-1);
    const passes = salunEpochPasses(forget, retain, 10, new Rng(4));
    const seen = new Set<number>();
    for (const epoch of [0, 1, 5]) {
      const [f, r, ...more] = passes(epoch);
      expect(more).toHaveLength(0);
      expect(f.data).toBe(forget);
      expect(f.labels).toHaveLength(forget.indices.length);
      for (const l of f.labels as Uint8Array) seen.add(l);
      expect(r.data).toBe(retain);
      expect(r.labels).toBeUndefined();
    }
    expect(seen.size).toBe(10);
    expect(passes(3)[0].labels).toEqual(salunEpochPasses(forget, retain, 10, new Rng(4))(3)[0].labels);
    expect(passes(3)[0].labels).not.toEqual(passes(4)[0].labels);
  });

  it('refuses fewer than 2 classes', async () => {
    const { forget, retain } = unlearnData(0);
    await expectUnlearnError(() => salunEpochPasses(forget, retain, 1, new Rng(0)), 'UNLEARN_INVALID_OPTIONS');
  });
});
