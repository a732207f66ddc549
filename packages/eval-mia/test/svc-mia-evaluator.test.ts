import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type EvalData, Rng, createContainer, createMemoryLogger, runEvaluator, runServices } from '@unlearnjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type FeatureMatrix,
  MIA_FEATURES,
  SVM_CLASSIFIER_FACTORY,
  type SvmClassifier,
  SvcMiaEvaluator,
  registerEvalMia,
  svcMiaOptionsSchema,
} from '@unlearnjs/eval-mia';
import { type Pixel, channelModel, makeSet, range } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// With the channel model (logits = 10 · channel means), an image whose true channel exceeds the
// others by d/255 has confidence 1 / (1 + 2·exp(−10·d/255)).
// "Memorised" images: d in [240, 250], confidence > 0.9998 (what training drives members to).
// "Unseen" images: d in [2, 39], confidence in [0.35, 0.7].
const rng = new Rng(7);
function img(d: number): Pixel {
  const label = rng.int(3);
  const rgb: [number, number, number] = [5, 5, 5];
  rgb[label] = 5 + d;
  return { label, rgb };
}
const memorised = (n: number) => Array.from({ length: n }, () => img(240 + rng.int(11)));
const unseen = (n: number) => Array.from({ length: n }, () => img(2 + rng.int(38)));

// Train set: 40 retain (memorised), 10 memorised forget images, 10 never-trained forget images.
const train = makeSet([...memorised(40), ...memorised(10), ...unseen(10)]);
const test = makeSet(unseen(40));
const retain = range(train, 0, 40);
const forgetMemorised = range(train, 40, 50);
const forgetUnseen = range(train, 50, 60);
const forgetMixed = range(train, 40, 56); // 10 memorised + 6 unseen
const testAll = range(test, 0, 40);

const container = () => createContainer({ seed: 3, use: [registerEvalMia], logger: createMemoryLogger() });

describe('svc-mia evaluator', () => {
  it('finds memorised forget images (efficacy 0) and not unseen ones (efficacy 100), with no tensor leak', async () => {
    const model = channelModel();
    const before = tf.memory().numTensors;
    const mem = await runEvaluator(container(), 'svc-mia', {
      model,
      data: { forget: forgetMemorised, retain, test: testAll, classToForget: -1 },
    });
    const fresh = await runEvaluator(container(), 'svc-mia', {
      model,
      data: { forget: forgetUnseen, retain, test: testAll, classToForget: -1 },
      options: { privacy: false },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(mem.metrics['MIA-efficacy']).toBe(0);
    expect(fresh.metrics['MIA-efficacy']).toBe(100);
    for (const f of ['confidence', 'entropy', 'm-entropy', 'prob']) {
      expect(mem.metrics[`MIA-efficacy:${f}`]).toBe(0);
      expect(fresh.metrics[`MIA-efficacy:${f}`]).toBe(100);
    }
    // Members and non-members are separable: the privacy attack is always right.
    expect(mem.metrics['MIA-privacy']).toBe(100);
    for (const f of MIA_FEATURES) {
      expect(mem.metrics).toHaveProperty(`MIA-efficacy:${f}`);
      expect(mem.metrics).toHaveProperty(`MIA-privacy:${f}`);
    }
    expect(fresh.metrics).not.toHaveProperty('MIA-privacy');
    expect(mem.details?.gamma).toMatchObject({ confidence: 1, prob: 1 / 3 });
    model.dispose();
  });

  it('reports the share of the forget set called non-member', async () => {
    const model = channelModel();
    const r = await runEvaluator(container(), 'svc-mia', {
      model,
      data: { forget: forgetMixed, retain, test: testAll, classToForget: -1 },
      options: { features: ['confidence', 'm-entropy'], privacy: false },
    });
    expect(r.metrics['MIA-efficacy']).toBeCloseTo((100 * 6) / 16, 10);
    expect(r.metrics['MIA-efficacy:m-entropy']).toBeCloseTo((100 * 6) / 16, 10);
    expect(Object.keys(r.metrics).sort()).toEqual(['MIA-efficacy', 'MIA-efficacy:confidence', 'MIA-efficacy:m-entropy']);
    model.dispose();
  });

  it('trains on the first n retain images (members, 1) and the first n test images (non-members, 0)', async () => {
    const model = channelModel();
    const calls: { x: FeatureMatrix; y: number[]; gamma?: number }[] = [];
    const fake = async (): Promise<SvmClassifier> => ({
      numSupportVectors: 0,
      gamma: undefined,
      train: (x, y) => {
        calls.push({ x: { ...x, data: Float64Array.from(x.data) }, y: Array.from(y) });
      },
      predict: (x) => new Int32Array(x.rows),
      dispose: () => {},
    });
    const evaluator = new SvcMiaEvaluator(fake);
    const data: EvalData = { forget: forgetMixed, retain: range(train, 0, 12), test: testAll, classToForget: -1 };
    const r = await evaluator.evaluate({
      model,
      data,
      options: svcMiaOptionsSchema.parse({ features: ['confidence'], maxShadow: 10 }),
      services: runServices(container(), 'test'),
    });
    // n = min(|test| 40, |retain| 12, maxShadow 10) = 10; efficacy fit, then privacy fit on halves.
    expect(calls.map((c) => c.x.rows)).toEqual([20, 10]);
    expect(calls[0].y).toEqual([...Array(10).fill(1), ...Array(10).fill(0)]);
    expect(calls[1].y).toEqual([...Array(5).fill(1), ...Array(5).fill(0)]);
    const conf = (set: typeof train, i: number) => {
      const z = Array.from(set.images.subarray(i * 3072, i * 3072 + 3), (b) => Math.exp((10 * b) / 255));
      return z[set.labels[i]] / (z[0] + z[1] + z[2]);
    };
    for (let i = 0; i < 10; i++) {
      expect(calls[0].x.data[i]).toBeCloseTo(conf(train, i), 5);
      expect(calls[0].x.data[10 + i]).toBeCloseTo(conf(test, i), 5);
    }
    // The fake predicts 0 (non-member) for every row: efficacy 100, privacy = mean(0, 100).
    expect(r.metrics['MIA-efficacy']).toBe(100);
    expect(r.metrics['MIA-privacy']).toBe(50);
    expect(r.details?.sizes).toMatchObject({ shadowMembers: 10, shadowNonMembers: 10, forget: 16 });
    model.dispose();
  });

  it('under whole-class forgetting takes its non-members from the test set without that class, as the reference', async () => {
    const model = channelModel();
    const calls: FeatureMatrix[] = [];
    const fake = async (): Promise<SvmClassifier> => ({
      numSupportVectors: 0,
      gamma: undefined,
      train: (x) => void calls.push({ ...x, data: Float64Array.from(x.data) }),
      predict: (x) => new Int32Array(x.rows),
      dispose: () => {},
    });
    const labels = Array.from(testAll.indices, (i) => test.labels[i]);
    const c = labels[0]; // the forgotten class holds the first test image, so "the first n" differ
    const without = { source: test, indices: testAll.indices.filter((i) => test.labels[i] !== c) };
    const n = 8;
    const run = (data: EvalData) =>
      new SvcMiaEvaluator(fake).evaluate({
        model,
        data,
        options: svcMiaOptionsSchema.parse({ features: ['confidence'], maxShadow: n, privacy: false }),
        services: runServices(container(), 'test'),
      });
    // Class-wise without testRetainClasses: the class is dropped; with it: that set is used.
    for (const data of [
      { forget: forgetMixed, retain, test: testAll, classToForget: c },
      { forget: forgetMixed, retain, test: testAll, testRetainClasses: without, classToForget: c },
    ]) {
      calls.length = 0;
      const r = await run(data);
      const z = (i: number) => [0, 1, 2].map((k) => Math.exp(10 * ((test.images[i * 3072 + k] as number) / 255)));
      const conf = (i: number) => z(i)[test.labels[i]] / z(i).reduce((a, b) => a + b);
      for (let k = 0; k < n; k++) expect(calls[0].data[n + k]).toBeCloseTo(conf(without.indices[k]), 5);
      expect(r.details).toMatchObject({ nonMembers: `test-without-class-${c}` });
    }
    // Random forgetting, or only some images of the class (testRetainClasses = test): every class.
    calls.length = 0;
    const partial = await run({ forget: forgetMixed, retain, test: testAll, testRetainClasses: testAll, classToForget: c });
    expect(partial.details).toMatchObject({ nonMembers: 'test' });
    const z0 = [0, 1, 2].map((k) => Math.exp(10 * ((test.images[testAll.indices[0] * 3072 + k] as number) / 255)));
    expect(calls[0].data[n]).toBeCloseTo(z0[c] / z0.reduce((a, b) => a + b), 5); // the class-c image is in
    model.dispose();
  });

  it('gives the same efficacy for class-wise forgetting as for the test set without the class (real SVM)', async () => {
    const model = channelModel();
    const c = test.labels[testAll.indices[0]];
    const without = { source: test, indices: testAll.indices.filter((i) => test.labels[i] !== c) };
    const opts = { features: ['confidence'] as const, privacy: false };
    const classWise = await runEvaluator(container(), 'svc-mia', {
      model,
      data: { forget: forgetMixed, retain, test: testAll, classToForget: c },
      options: { ...opts, features: [...opts.features] },
    });
    const filtered = await runEvaluator(container(), 'svc-mia', {
      model,
      data: { forget: forgetMixed, retain, test: without, classToForget: -1 },
      options: { ...opts, features: [...opts.features] },
    });
    expect(classWise.metrics['MIA-efficacy']).toBe(filtered.metrics['MIA-efficacy']);
    expect(classWise.details?.sizes).toMatchObject({ shadowNonMembers: Math.min(without.indices.length, 40) });
    model.dispose();
  });

  it('trains the SVM the run container provides under SVM_CLASSIFIER_FACTORY, libsvm otherwise', async () => {
    const model = channelModel();
    let fits = 0;
    const c = container();
    c.register(SVM_CLASSIFIER_FACTORY, {
      useValue: async () => ({
        numSupportVectors: 0,
        gamma: undefined,
        train: () => void fits++,
        predict: (x: FeatureMatrix) => new Int32Array(x.rows).fill(1),
        dispose: () => {},
      }),
    });
    const data: EvalData = { forget: forgetUnseen, retain, test: testAll, classToForget: -1 };
    const injected = await runEvaluator(c, 'svc-mia', { model, data, options: { features: ['confidence'], privacy: false } });
    expect(fits).toBe(1);
    expect(injected.metrics['MIA-efficacy']).toBe(0); // the injected SVM calls everything a member
    const libsvm = await runEvaluator(container(), 'svc-mia', { model, data, options: { features: ['confidence'], privacy: false } });
    expect(libsvm.metrics['MIA-efficacy']).toBe(100);
    model.dispose();
  });

  it('refuses bad options and empty sets with coded errors', async () => {
    const model = channelModel();
    const data: EvalData = { forget: forgetMixed, retain, test: testAll, classToForget: -1 };
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
    for (const options of [{ C: -1 }, { features: ['loss'] }, { features: [] }, { maxShadow: 0 }, { unknown: 1 }]) {
      expect(await code(runEvaluator(container(), 'svc-mia', { model, data, options: options as never }))).toBe('UNLEARN_INVALID_OPTIONS');
    }
    expect(await code(runEvaluator(container(), 'svc-mia', { model, data: { ...data, test: range(test, 0, 0) } }))).toBe(
      'UNLEARN_INVALID_OPTIONS',
    );
    model.dispose();
  });
});
