import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Model,
  type ModelDefinition,
  Rng,
  type RunServices,
  createImageSet,
  createMemoryLogger,
  crossEntropy,
  ensureGradients,
  fullSubset,
  isUnlearnError,
  silentProgress,
  train,
} from '@unlearnjs/core';

// Written by PyTorch (fixtures/make-label-smoothing-fixtures.py): F.cross_entropy with
// label_smoothing and its gradient with respect to the logits, in float64.
interface Case {
  name: string;
  labelSmoothing: number;
  logits: number[][];
  labels: number[];
  loss: number;
  gradLogits: number[][];
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/label-smoothing-fixtures.json', import.meta.url), 'utf8')) as {
  torch: string;
  cases: Case[];
};

/** Loss and d loss / d logits of core's crossEntropy. */
function lossAndGrad(logits: number[][], labels: number[], eps: number): { loss: number; grad: number[][] } {
  return tf.tidy(() => {
    const x = tf.tensor2d(logits);
    const y = tf.tensor1d(labels, 'int32');
    const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, y, eps))(x);
    return { loss: value.dataSync()[0], grad: grad.arraySync() as number[][] };
  });
}

function expectClose(actual: number[][], expected: number[][], tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    for (let k = 0; k < expected[i].length; k++) expect(Math.abs(actual[i][k] - expected[i][k])).toBeLessThan(tol);
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

describe('crossEntropy with label smoothing', () => {
  for (const c of fixtures.cases) {
    it(`equals PyTorch ${fixtures.torch}'s F.cross_entropy(label_smoothing) and its gradient: ${c.name}`, () => {
      const { loss, grad } = lossAndGrad(c.logits, c.labels, c.labelSmoothing);
      expect(Math.abs(loss - c.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(c.loss)));
      expectClose(grad, c.gradLogits, 1e-6);
    });
  }

  it('follows the closed forms: ln K for equal logits at any ε, and (softmax − target) / b as the gradient', () => {
    for (const eps of [0, 0.1, 0.5, 1]) {
      const { loss, grad } = lossAndGrad(
        [
          [3, 3, 3, 3, 3],
          [-1, -1, -1, -1, -1],
        ],
        [0, 4],
        eps,
      );
      expect(loss).toBeCloseTo(Math.log(5), 6);
      // softmax = 1/K everywhere; target = (1 − ε)·onehot + ε/K.
      const expected = [0, 4].map((label) => Array.from({ length: 5 }, (_, k) => (1 / 5 - ((k === label ? 1 - eps : 0) + eps / 5)) / 2));
      expectClose(grad, expected, 1e-7);
    }
    // Two classes, logits (a, 0), label 0: p = σ(a); loss = −(1 − ε/2)·ln p − (ε/2)·ln(1 − p).
    const a = 1.7;
    const eps = 0.3;
    const p = 1 / (1 + Math.exp(-a));
    const { loss, grad } = lossAndGrad([[a, 0]], [0], eps);
    expect(loss).toBeCloseTo(-(1 - eps / 2) * Math.log(p) - (eps / 2) * Math.log(1 - p), 6);
    expectClose(grad, [[p - (1 - eps / 2), 1 - p - eps / 2]], 1e-6);
  });

  it('at ε = 0 is the plain cross-entropy, and leaks no tensors', () => {
    const c = fixtures.cases[0];
    const before = tf.memory().numTensors;
    const plain = tf.tidy(() => crossEntropy(tf.tensor2d(c.logits), tf.tensor1d(c.labels, 'int32')).dataSync()[0]);
    const zero = tf.tidy(() => crossEntropy(tf.tensor2d(c.logits), tf.tensor1d(c.labels, 'int32'), 0).dataSync()[0]);
    expect(zero).toBe(plain);
    expect(tf.memory().numTensors).toBe(before);
  });
});

// A tiny dense model on synthetic images: enough to see which loss train() descends.
function tinyDefinition(): ModelDefinition {
  return {
    arch: 'tiny-ls',
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
        const pooled = tf.avgPool(x, 4, 4, 'valid');
        const flat = tf.reshape(pooled, [x.shape[0], -1]);
        return tf.add(tf.matMul(flat, ctx.w('fc.kernel') as tf.Tensor2D), ctx.w('fc.bias')) as tf.Tensor2D;
      });
    },
  };
}

function syntheticSet(n: number, seed: number) {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    for (let j = 0; j < 3072; j++) images[i * 3072 + j] = rng.int(256);
  }
  return createImageSet({ images, labels });
}

function services(seed: number): RunServices {
  return { logger: createMemoryLogger(), progress: silentProgress, signal: new AbortController().signal, rng: new Rng(seed) };
}

function weights(model: Model): number[] {
  return [...model.params.values()].flatMap((v) => Array.from(v.dataSync()));
}

describe('train with labelSmoothing', () => {
  const data = fullSubset(syntheticSet(40, 1));
  const base = { epochs: 2, batchSize: 16, lr: 0.1, evalEvery: 0, augment: false };

  it('descends the smoothed cross-entropy: the same weights as that loss given as a custom loss, others than ε = 0', async () => {
    const run = async (options: { labelSmoothing?: number; smoothedLoss?: number }) => {
      const model = new Model(tinyDefinition(), new Rng(3));
      const { smoothedLoss, ...rest } = options;
      await train(model, {
        ...base,
        ...rest,
        ...(smoothedLoss !== undefined ? { loss: ({ logits, labels }) => crossEntropy(logits, labels, smoothedLoss) } : {}),
        data,
        services: services(4),
      });
      const w = weights(model);
      model.dispose();
      return w;
    };
    const smoothed = await run({ labelSmoothing: 0.2 });
    expect(smoothed).toEqual(await run({ smoothedLoss: 0.2 }));
    expect(smoothed).not.toEqual(await run({}));
    expect(await run({ labelSmoothing: 0 })).toEqual(await run({}));
  });

  it('refuses ε outside [0, 1], and ε > 0 with a custom loss, with UNLEARN_INVALID_OPTIONS', async () => {
    const model = new Model(tinyDefinition(), new Rng(3));
    for (const options of [{ labelSmoothing: -0.1 }, { labelSmoothing: 1.5 }, { labelSmoothing: 0.1, loss: () => tf.scalar(0) }]) {
      const err = await train(model, { ...base, ...options, data, services: services(4) }).catch((e: unknown) => e);
      expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS'), String(err)).toBe(true);
    }
    model.dispose();
  });

  it('is part of the checkpointed config: a run with another ε does not resume from it', async () => {
    const ckpt = join(mkdtempSync(join(tmpdir(), 'unlearnjs-ls-')), 'train.ckpt');
    const model = new Model(tinyDefinition(), new Rng(3));
    const opts = { ...base, labelSmoothing: 0.1, data, checkpoint: ckpt };
    await train(model, { ...opts, services: services(4) });
    expect((await train(model, { ...opts, services: services(4) })).resumedAt).toBe(2);
    const { labelSmoothing: _, ...unsmoothed } = opts;
    const err = await train(model, { ...unsmoothed, services: services(4) }).catch((e: unknown) => e);
    expect(isUnlearnError(err, 'UNLEARN_CHECKPOINT_INCOMPATIBLE'), String(err)).toBe(true);
    model.dispose();
  });
});
