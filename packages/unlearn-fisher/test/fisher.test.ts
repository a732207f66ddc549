import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  Rng,
  type UnlearnData,
  createContainer,
  createMemoryLogger,
  createModel,
  disposeVector,
  fullSubset,
  runUnlearner,
  subsetOf,
  takeFirst,
} from '@unlearnjs/core';
import {
  createTinyUnlearnData,
  describeUnlearnerContract,
  expectNoTensorLeak,
  expectUnlearnError,
  registerTinyModel,
  setRandomMasks,
  LINEAR_SOFTMAX_FEATURES,
  linearSoftmaxFeatures,
  linearSoftmaxCeGradient,
  createLinearSoftmaxModel,
  maxRelativeError,
  createRandomImageSet,
  linearSoftmaxProbabilities,
  linearSoftmaxWeights,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FISHER_CLASSIFIER_VARIANCE_CAP,
  FISHER_VARIANCE_CAP,
  fisherDiagonal,
  fisherPlugin,
  fisherPosterior,
  inputAxisOf,
  registerFisher,
} from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeUnlearnerContract({
  needs: ['retain'],
  plugin: fisherPlugin,
  use: [registerFisher],
  validOptions: { alpha: 1e-3, batchSize: 16, maxSamples: 32 },
  invalidOptions: [
    ['a negative alpha', { alpha: -1 }],
    ['batchSize 0', { batchSize: 0 }],
    ['a fractional batchSize', { batchSize: 2.5 }],
    ['maxSamples 0', { maxSamples: 0 }],
    ['an unknown reduction', { reduction: 'max' }],
    ['a misspelt key', { alfa: 0.1 }],
  ],
});

function dataOf(seed: number, classToForget: number): UnlearnData {
  return createTinyUnlearnData({ seed, classToForget });
}

/** Read a tensor into a plain array. */
const read = (t: tf.Tensor | undefined): Float32Array => Float32Array.from((t as tf.Tensor).dataSync() as ArrayLike<number>);

describe('fisherDiagonal', () => {
  // Brute force of the reference's hessian(): per batch, per class y, the batch-mean CE
  // gradient with every label set to y, squared, weighted by mean_batch p_y; summed over
  // batches, then divided by the number of batches.
  function bruteForce(xs: number[][], batchSize: number, W: number[][], b: number[]) {
    const F = W.length;
    const C = b.length;
    const hW = Array.from({ length: F }, () => new Array<number>(C).fill(0));
    const hb = new Array<number>(C).fill(0);
    let nb = 0;
    for (let s = 0; s < xs.length; s += batchSize) {
      const bx = xs.slice(s, s + batchSize);
      const ps = bx.map((x) => linearSoftmaxProbabilities(x, W, b));
      for (let y = 0; y < C; y++) {
        const pbar = ps.reduce((a, p) => a + p[y], 0) / bx.length;
        const { gW, gb } = linearSoftmaxCeGradient(
          bx,
          bx.map(() => y),
          W,
          b,
        );
        for (let c = 0; c < C; c++) {
          hb[c] += pbar * gb[c] ** 2;
          for (let f = 0; f < F; f++) hW[f][c] += pbar * gW[f][c] ** 2;
        }
      }
      nb++;
    }
    return { hW: hW.flat(), hb, nb };
  }

  it('equals the brute-force per-class computation on a linear softmax model (uneven last batch)', () => {
    const model = createLinearSoftmaxModel(3);
    try {
      const subset = fullSubset(createRandomImageSet(37, 5));
      const { W, b } = linearSoftmaxWeights(model);
      const expected = bruteForce(linearSoftmaxFeatures(subset), 16, W, b);
      expect(expected.nb).toBe(3);
      const before = tf.memory().numTensors;
      const est = fisherDiagonal(model, subset, { batchSize: 16 });
      expect(est.batches).toBe(3);
      expect(est.samples).toBe(37);
      expect(est.classes).toBe(10);
      const hW = read(est.diagonal.get('dense.kernel'));
      const hb = read(est.diagonal.get('dense.bias'));
      const mean = expected.hW.map((v) => v / expected.nb);
      expect(maxRelativeError(hW, mean)).toBeLessThan(1e-4);
      expect(
        maxRelativeError(
          hb,
          expected.hb.map((v) => v / expected.nb),
        ),
      ).toBeLessThan(1e-4);
      disposeVector(est.diagonal);
      // reduction 'sum' keeps the sum over batches.
      const sum = fisherDiagonal(model, subset, { batchSize: 16, reduction: 'sum' });
      expect(maxRelativeError(read(sum.diagonal.get('dense.kernel')), expected.hW)).toBeLessThan(1e-4);
      disposeVector(sum.diagonal);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('gives pruned weights H = 0 (their gradients are masked)', () => {
    const model = createLinearSoftmaxModel(4);
    try {
      const mask = new Float32Array(LINEAR_SOFTMAX_FEATURES * 10).map((_, i) => (i % 3 === 0 ? 0 : 1));
      const m = tf.tensor(mask, [LINEAR_SOFTMAX_FEATURES, 10]);
      model.setMasks(new Map([['dense.kernel', m]]));
      m.dispose();
      const est = fisherDiagonal(model, fullSubset(createRandomImageSet(20, 6)), { batchSize: 8 });
      const h = read(est.diagonal.get('dense.kernel'));
      disposeVector(est.diagonal);
      for (let i = 0; i < h.length; i++) {
        if (mask[i] === 0) expect(h[i]).toBe(0);
        else expect(h[i]).toBeGreaterThan(0);
      }
    } finally {
      model.dispose();
    }
  });
});

describe('fisherPosterior', () => {
  it('maps the input axis of HWIO conv and [in, out] dense kernels to PyTorch dim 1', () => {
    expect(inputAxisOf([3, 3, 16, 32])).toBe(2);
    expect(inputAxisOf([512, 10])).toBe(0);
    expect(inputAxisOf([1, 65, 192])).toBe(1);
    expect(inputAxisOf([10])).toBeUndefined();
  });

  // Plain-JS restatement of get_mean_var on the tiny model: conv.kernel [3,3,3,4] (HWIO),
  // conv.bias [4], dense.kernel [256,10] (classifier), dense.bias [10] (classifier).
  function expectedVariance(name: string, shape: number[], h: Float32Array, alpha: number, classToForget: number): Float64Array {
    const isClassifier = name.startsWith('dense.');
    const cap = isClassifier ? FISHER_CLASSIFIER_VARIANCE_CAP : FISHER_VARIANCE_CAP;
    const raw = Float64Array.from(h, (v) => alpha * Math.min(1 / (v + 1e-8), cap));
    const out = new Float64Array(raw.length);
    if (shape.length === 4) {
      const [kh, kw, cin, cout] = shape;
      for (let i = 0; i < kh * kw; i++)
        for (let o = 0; o < cout; o++) {
          let s = 0;
          for (let c = 0; c < cin; c++) s += raw[(i * cin + c) * cout + o];
          for (let c = 0; c < cin; c++) out[(i * cin + c) * cout + o] = s / cin;
        }
    } else if (shape.length === 2) {
      const [fin, fout] = shape;
      for (let o = 0; o < fout; o++) {
        let s = 0;
        for (let f = 0; f < fin; f++) s += raw[f * fout + o];
        for (let f = 0; f < fin; f++) out[f * fout + o] = s / fin;
      }
    } else out.set(raw);
    if (isClassifier && classToForget >= 0) {
      const classes = shape[shape.length - 1];
      for (let i = 0; i < out.length; i++) if (i % classes === classToForget) out[i] = 1e-4;
    }
    if (isClassifier || shape.length === 1) for (let i = 0; i < out.length; i++) out[i] *= 10;
    return out;
  }

  for (const classToForget of [-1, 3]) {
    it(`applies caps, alpha, input-axis averaging, the x10 rule and (class ${classToForget}) the forgotten class`, () => {
      const container = createContainer({ seed: 0, use: [registerTinyModel], logger: createMemoryLogger() });
      const model = createModel(container, 'tiny');
      const rng = new Rng(11);
      const diagonal = new Map<string, tf.Tensor>();
      const values = new Map<string, Float32Array>();
      for (const [name, p] of model.params) {
        // H spread over 1e-6..1e2 (so both caps bind somewhere) with a few exact zeros.
        const v = Float32Array.from({ length: p.size }, (_, i) => (i % 17 === 0 ? 0 : 10 ** (rng.next() * 8 - 6)));
        values.set(name, v);
        diagonal.set(name, tf.tensor(v, p.shape));
      }
      const before = tf.memory().numTensors;
      const alpha = 0.37;
      const post = fisherPosterior(model, diagonal, { alpha, classToForget });
      try {
        for (const [name, p] of model.params) {
          const expected = expectedVariance(name, p.shape, values.get(name) as Float32Array, alpha, classToForget);
          expect(maxRelativeError(read(post.variance.get(name)), expected), name).toBeLessThan(1e-5);
          const theta = read(p);
          const mu = read(post.mean.get(name));
          const classes = p.shape[p.shape.length - 1];
          for (let i = 0; i < mu.length; i++) {
            const forgotten = name.startsWith('dense.') && classToForget >= 0 && i % classes === classToForget;
            expect(forgotten ? Math.abs(mu[i]) : mu[i]).toBe(forgotten ? 0 : theta[i]);
          }
        }
      } finally {
        disposeVector(post.mean);
        disposeVector(post.variance);
        expect(tf.memory().numTensors).toBe(before);
        disposeVector(diagonal);
        model.dispose();
      }
    });
  }

  it('rejects a classToForget outside the classifier with UNLEARN_INVALID_OPTIONS', async () => {
    const model = createLinearSoftmaxModel(1);
    const diagonal = new Map([...model.params].map(([n, p]) => [n, tf.onesLike(p)] as [string, tf.Tensor]));
    try {
      await expectUnlearnError(() => fisherPosterior(model, diagonal, { alpha: 1, classToForget: 10 }), 'UNLEARN_INVALID_OPTIONS');
    } finally {
      disposeVector(diagonal);
      model.dispose();
    }
  });
});

describe('fisher unlearner', () => {
  // hidden 8 adds a non-classifier [in, out] dense kernel; hidden 0 gives a 256-wide classifier.
  const setup = (seed = 0, hidden = 8) => {
    const container = createContainer({ seed, use: [registerTinyModel, registerFisher], logger: createMemoryLogger() });
    return { container, model: createModel(container, 'tiny', { hidden }) };
  };

  it('draws noise with exactly the variance the formula gives (chi-square check)', async () => {
    const { container, model } = setup(2);
    try {
      const all = dataOf(2, 4);
      const data = { ...all, retain: takeFirst(all.retain, 48) };
      const alpha = 1e-3;
      // μ and var from the same (deterministic) estimate the unlearner will compute.
      const est = fisherDiagonal(model, data.retain, { batchSize: 32 });
      const post = fisherPosterior(model, est.diagonal, { alpha, classToForget: 4 });
      const mu = new Map([...post.mean].map(([n, t]) => [n, read(t)]));
      const sd = new Map([...post.variance].map(([n, t]) => [n, Float64Array.from(read(t), Math.sqrt)]));
      for (const v of [est.diagonal, post.mean, post.variance]) disposeVector(v);

      const report = await runUnlearner(container, 'fisher', { model, data, options: { alpha } });
      expect(report.method).toBe('fisher');
      expect(report.epochs).toEqual([]);
      expect(report.extra.samples).toBe(data.retain.indices.length);

      // z = (θ − μ)/√var must be iid N(0,1). For n draws the sample mean of z² has standard
      // error √(2/n) (chi-square with n degrees of freedom, divided by n) and the mean of z
      // has 1/√n: accept 5 standard errors, globally and per tensor of ≥ 64 weights (a
      // missed ×10 or a wrong axis would move one tensor's ratio to ~10 or ~0.1).
      let n = 0;
      let s1 = 0;
      let s2 = 0;
      for (const [name, p] of model.params) {
        const theta = read(p);
        const m = mu.get(name) as Float32Array;
        const s = sd.get(name) as Float64Array;
        let t1 = 0;
        let t2 = 0;
        for (let i = 0; i < theta.length; i++) {
          const z = (theta[i] - m[i]) / s[i];
          t1 += z;
          t2 += z * z;
        }
        if (theta.length >= 64) expect(Math.abs(t2 / theta.length - 1), name).toBeLessThan(5 * Math.sqrt(2 / theta.length));
        n += theta.length;
        s1 += t1;
        s2 += t2;
      }
      expect(n).toBe(model.numParams());
      expect(Math.abs(s1 / n)).toBeLessThan(5 / Math.sqrt(n));
      expect(Math.abs(s2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    } finally {
      model.dispose();
    }
  });

  it('class-wise: the forgotten class column is resampled around 0 with variance 1e-4 x 10', async () => {
    const { container, model } = setup(3, 0);
    try {
      const c = 5;
      await runUnlearner(container, 'fisher', { model, data: dataOf(3, c), options: { alpha: 1e-4 } });
      const k = model.params.get('dense.kernel') as tf.Variable;
      const [fin, classes] = k.shape;
      const w = read(k);
      const col = Array.from({ length: fin }, (_, f) => w[f * classes + c]);
      const mean = col.reduce((a, v) => a + v, 0) / fin;
      const second = col.reduce((a, v) => a + v * v, 0) / fin;
      // Draws are N(0, 1e-3): mean within 5·√(1e-3/n), E[w²]/1e-3 within 5·√(2/n).
      expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(1e-3 / fin));
      expect(Math.abs(second / 1e-3 - 1)).toBeLessThan(5 * Math.sqrt(2 / fin));
      const bias = read(model.params.get('dense.bias'));
      expect(Math.abs(bias[c])).toBeLessThan(5 * Math.sqrt(1e-3));
    } finally {
      model.dispose();
    }
  });

  it('uses at most maxSamples retain images and keeps masked weights at zero', async () => {
    const { container, model } = setup(4);
    try {
      const pruned = setRandomMasks(model, new Rng(9));
      expect(pruned).toBeGreaterThan(0);
      const data = dataOf(4, -1);
      const report = await runUnlearner(container, 'fisher', { model, data, options: { alpha: 0.2, maxSamples: 20, batchSize: 8 } });
      expect(report.extra.samples).toBe(20);
      expect(report.extra.batches).toBe(3);
      for (const [name, mask] of model.masks) {
        const w = read(model.params.get(name));
        const m = read(mask);
        for (let i = 0; i < w.length; i++) if (m[i] === 0) expect(Math.abs(w[i])).toBe(0);
      }
    } finally {
      model.dispose();
    }
  });

  it('stops with UNLEARN_ABORTED and leaves the model unchanged when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const container = createContainer({
      seed: 0,
      use: [registerTinyModel, registerFisher],
      logger: createMemoryLogger(),
      signal: controller.signal,
    });
    const model = createModel(container, 'tiny');
    try {
      const before = read(model.params.get('dense.kernel'));
      await expectNoTensorLeak(() =>
        expectUnlearnError(() => runUnlearner(container, 'fisher', { model, data: dataOf(0, 0) }), 'UNLEARN_ABORTED'),
      );
      expect(read(model.params.get('dense.kernel'))).toEqual(before);
    } finally {
      model.dispose();
    }
  });

  it('rejects an empty retain set with UNLEARN_EMPTY_DATA', async () => {
    const { container, model } = setup(5);
    try {
      const data = dataOf(5, 0);
      await expectUnlearnError(
        () => runUnlearner(container, 'fisher', { model, data: { ...data, retain: subsetOf(data.retain.source, []) } }),
        'UNLEARN_EMPTY_DATA',
      );
    } finally {
      model.dispose();
    }
  });
});
