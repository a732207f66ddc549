import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  type LossFunction,
  Model,
  type ModelDefinition,
  Rng,
  type RunServices,
  type Schedule,
  type Subset,
  type UnlearnContext,
  createImageSet,
  createMemoryLogger,
  crossEntropy,
  evaluateAccuracy,
  sgdUnlearnOptionFields,
  silentProgress,
  train,
  trainUnlearner,
} from '@unlearnjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

// A tiny dense model on 32×32×3 images (mean-pooled to 8×8×3 so that it stays fast).
function tinyDefinition(): ModelDefinition {
  return {
    arch: 'tiny-dense',
    config: {},
    params: [
      { name: 'fc.kernel', shape: [8 * 8 * 3, 10], init: 'glorot-uniform' },
      { name: 'fc.bias', shape: [10], init: 'zeros' },
    ],
    buffers: [],
    prunable: ['fc.kernel'],
    classifier: { kernel: 'fc.kernel', bias: 'fc.bias' },
    forward(x, ctx) {
      return tf.tidy(() => {
        const pooled = tf.avgPool(x as tf.Tensor4D, 4, 4, 'valid');
        const flat = tf.reshape(pooled, [x.shape[0], -1]) as tf.Tensor2D;
        return tf.add(tf.matMul(flat, ctx.w('fc.kernel') as tf.Tensor2D), ctx.w('fc.bias')) as tf.Tensor2D;
      });
    },
  };
}

function syntheticSubsets(n: number, seed: number): { train: Subset; validation: Subset } {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    for (let p = 0; p < 3072; p++) images[i * 3072 + p] = Math.max(0, Math.min(255, Math.round(25 * (i % 10) + 20 * rng.normal())));
  }
  const source = createImageSet({ images, labels });
  const all = Int32Array.from({ length: n }, (_, i) => i);
  return { train: { source, indices: all.slice(0, n - 10) }, validation: { source, indices: all.slice(n - 10) } };
}

function services(seed: number): RunServices {
  return { logger: createMemoryLogger(), progress: silentProgress, signal: new AbortController().signal, rng: new Rng(seed) };
}

function weights(model: Model): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [n, v] of model.params) out[n] = Array.from(v.dataSync());
  return out;
}

const schema = z.strictObject({ ...sgdUnlearnOptionFields({ epochs: 10, lr: 0.01 }) });

function issueMessages(input: unknown, s: z.ZodType = schema): string[] {
  const r = s.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.message);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('sgdUnlearnOptionFields', () => {
  it('fills in the per-method defaults and the shared ones', () => {
    expect(schema.parse({})).toEqual({
      epochs: 10,
      lr: 0.01,
      batchSize: 256,
      momentum: 0.9,
      weightDecay: 5e-4,
      augment: true,
      evalEvery: 0,
    });
    const other = z.strictObject({ ...sgdUnlearnOptionFields({ epochs: 160, lr: 0.1, minEpochs: 1 }) });
    expect(other.parse({})).toMatchObject({ epochs: 160, lr: 0.1 });
  });

  it('accepts the ends of every range and rejects just past them, with the messages users see', () => {
    expect(schema.safeParse({ epochs: 0, lr: 10, batchSize: 65_536, momentum: 1, weightDecay: 0, evalEvery: 0 }).success).toBe(true);
    expect(schema.safeParse({ epochs: 10_000, lr: 1e-9, batchSize: 1, momentum: 0, weightDecay: 1 }).success).toBe(true);
    expect(issueMessages({ epochs: -1 })).toEqual(['epochs must be an integer >= 0']);
    expect(issueMessages({ epochs: 1.5 })).toEqual(['epochs must be an integer >= 0']);
    expect(issueMessages({ epochs: 10_001 })).toEqual(['epochs must be <= 10000']);
    expect(issueMessages({ lr: 0 })).toEqual(['lr must be > 0 (and <= 10)']);
    expect(issueMessages({ lr: 10.5 })).toEqual(['lr must be > 0 and <= 10']);
    expect(issueMessages({ batchSize: 0 })).toEqual(['batchSize must be an integer >= 1']);
    expect(issueMessages({ batchSize: 65_537 })).toEqual(['batchSize must be <= 65536']);
    expect(issueMessages({ momentum: 1.1 })).toEqual(['momentum must be in [0, 1]']);
    expect(issueMessages({ weightDecay: -0.1 })).toEqual(['weightDecay must be in [0, 1]']);
    expect(issueMessages({ evalEvery: -1 })).toEqual(['evalEvery must be an integer >= 0']);
    expect(issueMessages({ augment: 'yes' })).toHaveLength(1);
  });

  it('with minEpochs 1 rejects 0 epochs and says so', () => {
    const s = z.strictObject({ ...sgdUnlearnOptionFields({ epochs: 160, lr: 0.1, minEpochs: 1 }) });
    expect(issueMessages({ epochs: 0 }, s)).toEqual(['epochs must be an integer >= 1']);
    expect(s.safeParse({ epochs: 1 }).success).toBe(true);
  });
});

describe('trainUnlearner', () => {
  const { train: data, validation } = syntheticSubsets(50, 1);

  function context(seed: number, options: Record<string, unknown>): UnlearnContext<z.output<typeof schema>> {
    const model = new Model(tinyDefinition(), new Rng(1));
    return {
      model,
      data: { forget: data, retain: data, validation, classToForget: -1 },
      options: schema.parse(options),
      services: services(seed),
    };
  }

  it("trains exactly as core's train with the same options, labels, loss and schedule", async () => {
    const labels = Uint8Array.from({ length: data.indices.length }, (_, i) => (i * 7) % 10);
    const loss: LossFunction = ({ logits, labels: y }) => tf.mul(crossEntropy(logits, y), 0.5);
    const schedule: Schedule = { type: 'multistep', milestones: [1], gamma: 0.5 };
    const options = { epochs: 2, lr: 0.05, batchSize: 16, momentum: 0.8, weightDecay: 1e-3, augment: true };

    const ctx = context(3, options);
    const before = tf.memory().numTensors;
    const report = await trainUnlearner(ctx, { method: 'toy', data, labels, loss, schedule, extra: { size: 40 } });
    expect(tf.memory().numTensors).toBe(before);

    const direct = new Model(tinyDefinition(), new Rng(1));
    const expected = await train(direct, { ...options, data, labels, loss, schedule, evalEvery: 0, label: 'toy', services: services(3) });
    expect(weights(ctx.model)).toEqual(weights(direct));
    expect(report.epochs.map((e) => [e.loss, e.lr])).toEqual(expected.epochs.map((e) => [e.loss, e.lr]));
    expect(report.epochs.map((e) => e.lr)).toEqual([0.05, 0.025]);
    expect(report.method).toBe('toy');
    expect(Object.keys(report.extra)).toEqual(['size', 'imagesPerSecond']);
    expect(report.extra.size).toBe(40);
    expect(report.extra.imagesPerSecond).toBeGreaterThan(0);
    expect(report.seconds).toBeGreaterThan(0);
    ctx.model.dispose();
    direct.dispose();
  });

  it('defaults to cross-entropy and the constant schedule', async () => {
    const options = { epochs: 2, lr: 0.05, batchSize: 16, augment: false };
    const ctx = context(4, options);
    const report = await trainUnlearner(ctx, { method: 'plain', data });
    const direct = new Model(tinyDefinition(), new Rng(1));
    await train(direct, { ...schema.parse(options), data, evalEvery: 0, label: 'plain', services: services(4) });
    expect(weights(ctx.model)).toEqual(weights(direct));
    expect(report.epochs.map((e) => e.lr)).toEqual([0.05, 0.05]);
    ctx.model.dispose();
    direct.dispose();
  });

  it('reports validation accuracy only when evalEvery > 0 and a validation set is given', async () => {
    const ctx = context(5, { epochs: 1, lr: 0.05, batchSize: 16, evalEvery: 1 });
    const report = await trainUnlearner(ctx, { method: 'eval', data });
    expect(Object.keys(report.extra)).toEqual(['imagesPerSecond', 'accuracy']);
    expect(report.extra.accuracy).toBe(evaluateAccuracy(ctx.model, validation));

    const noValidation = context(5, { epochs: 1, lr: 0.05, batchSize: 16, evalEvery: 1 });
    noValidation.data = { ...noValidation.data, validation: undefined };
    expect(Object.keys((await trainUnlearner(noValidation, { method: 'eval', data })).extra)).toEqual(['imagesPerSecond']);
    ctx.model.dispose();
    noValidation.model.dispose();
  });

  it('computes a function extra from the trained model and counts time from startedAt', async () => {
    const ctx = context(6, { epochs: 1, lr: 0.05, batchSize: 16 });
    const startedAt = performance.now() - 2000;
    const report = await trainUnlearner(ctx, {
      method: 'late',
      data,
      extra: (r) => ({ bias: Array.from(ctx.model.params.get('fc.bias')!.dataSync()), epochsSeen: r.epochs.length }),
      startedAt,
    });
    expect(report.extra.bias).toEqual(weights(ctx.model)['fc.bias']);
    expect(report.extra.bias).not.toEqual(new Array(10).fill(0));
    expect(report.extra.epochsSeen).toBe(1);
    expect(report.seconds).toBeGreaterThanOrEqual(2);
    ctx.model.dispose();
  });
});
