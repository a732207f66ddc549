import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's entry point registers no gradients (the union package @tensorflow/tfjs does).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, isUnlearnError } from '@unlearnjs/core';
// Model internals are not re-exported from the package root yet; import them from source.
import {
  BATCH_NORM_MOMENTUM,
  CIFAR10_MEAN,
  CIFAR10_STD,
  NORM_EPSILON,
  batchNorm,
  dense,
  dropout,
  gelu,
  layerNorm,
  matMul,
  normalizeCifar,
} from '@unlearnjs/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomArray(rng: Rng, n: number, std = 1): Float32Array {
  return rng.normalArray(n, 0, std);
}

describe('normalizeCifar', () => {
  it('maps the channel mean to 0 and mean + std to 1', () => {
    const mean = tf.tensor4d([...CIFAR10_MEAN], [1, 1, 1, 3]);
    const plus = tf.tensor4d(
      CIFAR10_MEAN.map((m, i) => m + CIFAR10_STD[i]),
      [1, 1, 1, 3],
    );
    const before = tf.memory().numTensors;
    const a = normalizeCifar(mean);
    const b = normalizeCifar(plus);
    expect(tf.memory().numTensors).toBe(before + 2);
    for (const v of a.dataSync()) expect(Math.abs(v)).toBeLessThan(1e-6);
    for (const v of b.dataSync()) expect(v).toBeCloseTo(1, 5);
    tf.dispose([mean, plus, a, b]);
  });
});

describe('batchNorm', () => {
  const n = 2;
  const h = 2;
  const w = 3;
  const c = 3;
  const rng = new Rng(4);
  const xs = randomArray(rng, n * h * w * c, 2);
  for (let i = 0; i < xs.length; i++) xs[i] += i % c; // a different mean per channel
  const gammaV = [1.5, -0.5, 2];
  const betaV = [0.1, 0.2, -0.3];
  const rm0 = [0.3, -0.2, 1];
  const rv0 = [2, 0.5, 1.5];
  // Closed forms computed in plain JS.
  const count = n * h * w;
  const mean = [0, 1, 2].map((ch) => {
    let s = 0;
    for (let i = ch; i < xs.length; i += c) s += xs[i];
    return s / count;
  });
  const biasedVar = [0, 1, 2].map((ch) => {
    let s = 0;
    for (let i = ch; i < xs.length; i += c) s += (xs[i] - mean[ch]) ** 2;
    return s / count;
  });

  function setup() {
    return {
      x: tf.tensor4d(xs, [n, h, w, c]),
      gamma: tf.tensor1d(gammaV),
      beta: tf.tensor1d(betaV),
      rm: tf.variable(tf.tensor1d(rm0), false),
      rv: tf.variable(tf.tensor1d(rv0), false),
    };
  }

  it('in training mode normalises with batch statistics and moves running stats by momentum 0.1 (unbiased var)', () => {
    const { x, gamma, beta, rm, rv } = setup();
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => batchNorm(x, gamma, beta, rm, rv, true));
    expect(tf.memory().numTensors).toBe(before + 1);
    const m = BATCH_NORM_MOMENTUM;
    expect(m).toBe(0.1);
    const rmNew = rm.dataSync();
    const rvNew = rv.dataSync();
    for (let ch = 0; ch < c; ch++) {
      expect(rmNew[ch]).toBeCloseTo((1 - m) * rm0[ch] + m * mean[ch], 5);
      expect(rvNew[ch]).toBeCloseTo((1 - m) * rv0[ch] + m * biasedVar[ch] * (count / (count - 1)), 5);
    }
    const yv = y.dataSync();
    for (let i = 0; i < xs.length; i++) {
      const ch = i % c;
      const want = ((xs[i] - mean[ch]) / Math.sqrt(biasedVar[ch] + NORM_EPSILON)) * gammaV[ch] + betaV[ch];
      expect(yv[i]).toBeCloseTo(want, 4);
    }
    tf.dispose([x, gamma, beta, rm, rv, y]);
  });

  it('in eval mode uses the running statistics and leaves them unchanged', () => {
    const { x, gamma, beta, rm, rv } = setup();
    const y = tf.tidy(() => batchNorm(x, gamma, beta, rm, rv, false));
    expect(Array.from(rm.dataSync())).toEqual(Array.from(new Float32Array(rm0)));
    expect(Array.from(rv.dataSync())).toEqual(Array.from(new Float32Array(rv0)));
    const yv = y.dataSync();
    for (let i = 0; i < xs.length; i++) {
      const ch = i % c;
      const want = ((xs[i] - rm0[ch]) / Math.sqrt(rv0[ch] + NORM_EPSILON)) * gammaV[ch] + betaV[ch];
      expect(yv[i]).toBeCloseTo(want, 4);
    }
    tf.dispose([x, gamma, beta, rm, rv, y]);
  });

  it('keeps the running update out of the gradient (matches the gradient of the formula without it)', () => {
    const { x, gamma, beta, rm, rv } = setup();
    const probe = tf.tensor4d(randomArray(new Rng(9), xs.length), [n, h, w, c]);
    const g = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(batchNorm(xx as tf.Tensor4D, gg, bb, rm, rv, true), probe)),
    );
    // The formula, differentiated by the tape (batchNorm's own backward pass is closed-form).
    const reference = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const mu = tf.mean(xx, [0, 1, 2]);
      const centered = tf.sub(xx, mu);
      const v = tf.mean(tf.square(centered), [0, 1, 2]);
      return tf.sum(tf.mul(tf.add(tf.mul(tf.div(centered, tf.sqrt(tf.add(v, NORM_EPSILON))), gg), bb), probe));
    });
    const [dx, dg, db] = g([x, gamma, beta]);
    const [rx, rg, rb] = reference([x, gamma, beta]);
    const close = (a: tf.Tensor, b: tf.Tensor) => {
      const av = a.dataSync();
      const bv = b.dataSync();
      for (let i = 0; i < av.length; i++) expect(av[i]).toBeCloseTo(bv[i], 4);
    };
    close(dx, rx);
    close(dg, rg);
    close(db, rb);
    tf.dispose([x, gamma, beta, rm, rv, probe, dx, dg, db, rx, rg, rb]);
  });
});

describe('batchNorm with a residual and ReLU (composed ops)', () => {
  it('equals relu(bn(x) + r) and its gradients (x, γ, β, r) equal the taped ones', () => {
    const rng = new Rng(6);
    const shape: [number, number, number, number] = [2, 3, 3, 4];
    const size = 2 * 3 * 3 * 4;
    const x = tf.tensor4d(randomArray(rng, size), shape);
    const r = tf.tensor4d(randomArray(rng, size), shape);
    const probe = tf.tensor4d(randomArray(rng, size), shape);
    const gamma = tf.tensor1d(randomArray(rng, 4));
    const beta = tf.tensor1d(randomArray(rng, 4));
    const rm = tf.variable(tf.zeros([4]), false);
    const rv = tf.variable(tf.ones([4]), false);
    const rm2 = tf.variable(tf.zeros([4]), false);
    const rv2 = tf.variable(tf.ones([4]), false);
    const before = tf.memory().numTensors;
    const loss = (fused: boolean) => (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor, rr: tf.Tensor) =>
      tf.sum(
        tf.mul(
          fused
            ? batchNorm(xx as tf.Tensor4D, gg, bb, rm, rv, true, { residual: rr as tf.Tensor4D, relu: true })
            : tf.relu(tf.add(batchNorm(xx as tf.Tensor4D, gg, bb, rm2, rv2, true), rr)),
          probe,
        ),
      );
    const got = tf.grads(loss(true))([x, gamma, beta, r]);
    const want = tf.grads(loss(false))([x, gamma, beta, r]);
    for (let i = 0; i < 4; i++) expect(Array.from(got[i].dataSync())).toEqual(Array.from(want[i].dataSync()));
    // Some outputs are cut by the ReLU, so its gradient matters here.
    const y = tf.tidy(() => batchNorm(x, gamma, beta, rm, rv, true, { residual: r, relu: true }));
    expect(Array.from(y.dataSync()).filter((v) => v === 0).length).toBeGreaterThan(0);
    expect(Array.from(rm.dataSync())).not.toEqual([0, 0, 0, 0]);
    tf.dispose([...got, ...want, y]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, r, probe, gamma, beta, rm, rv, rm2, rv2]);
  });
});

describe('layerNorm, dense, gelu', () => {
  it('layerNorm gives zero mean and unit (biased) variance per row before the affine part', () => {
    const x = tf.tensor2d([1, 2, 3, 4, -1, 0, 5, 2], [2, 4]);
    const y = tf.tidy(() => layerNorm(x, tf.ones([4]), tf.zeros([4])));
    const v = y.arraySync() as number[][];
    for (const row of v) {
      const m = row.reduce((a, b) => a + b, 0) / row.length;
      const s = row.reduce((a, b) => a + (b - m) ** 2, 0) / row.length;
      expect(Math.abs(m)).toBeLessThan(1e-6);
      expect(s).toBeCloseTo(1, 4);
    }
    tf.dispose([x, y]);
  });

  it('layerNorm gradients (x, gamma, beta) equal the taped gradients of the formula', () => {
    const rng = new Rng(4);
    const x = tf.tensor3d(randomArray(rng, 2 * 3 * 6), [2, 3, 6]);
    const gamma = tf.tensor1d(randomArray(rng, 6));
    const beta = tf.tensor1d(randomArray(rng, 6));
    const probe = tf.tensor3d(randomArray(rng, 2 * 3 * 6), [2, 3, 6]);
    const ours = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(xx, gg, bb), probe)));
    const reference = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const centered = tf.sub(xx, tf.mean(xx, 2, true));
      const v = tf.mean(tf.square(centered), 2, true);
      return tf.sum(tf.mul(tf.add(tf.mul(tf.div(centered, tf.sqrt(tf.add(v, NORM_EPSILON))), gg), bb), probe));
    });
    const got = ours([x, gamma, beta]);
    const want = reference([x, gamma, beta]);
    for (let k = 0; k < 3; k++) {
      expect(got[k].shape).toEqual(want[k].shape);
      const a = got[k].dataSync();
      const b = want[k].dataSync();
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 4);
    }
    tf.dispose([x, gamma, beta, probe, ...got, ...want]);
  });

  it('dense on a rank-3 input equals the per-token product', () => {
    const rng = new Rng(1);
    const x = tf.tensor3d(randomArray(rng, 2 * 3 * 4), [2, 3, 4]);
    const k = tf.tensor2d(randomArray(rng, 4 * 5), [4, 5]);
    const b = tf.tensor1d(randomArray(rng, 5));
    const y = dense(x, k, b);
    expect(y.shape).toEqual([2, 3, 5]);
    const xv = x.arraySync();
    const kv = k.arraySync();
    const bv = b.arraySync();
    const yv = y.arraySync();
    for (let i = 0; i < 2; i++)
      for (let t = 0; t < 3; t++)
        for (let o = 0; o < 5; o++) {
          let s = bv[o];
          for (let j = 0; j < 4; j++) s += xv[i][t][j] * kv[j][o];
          expect(yv[i][t][o]).toBeCloseTo(s, 4);
        }
    tf.dispose([x, k, b, y]);
  });

  it('gelu is the exact erf form: 0.5x(1+erf(x/√2))', () => {
    // Reference values of Φ(x) from the standard normal table.
    const xs = [-2, -1, 0, 1, 2];
    const phi = [0.0227501, 0.1586553, 0.5, 0.8413447, 0.9772499];
    const y = tf.tidy(() => gelu(tf.tensor1d(xs)));
    const v = y.dataSync();
    for (const [i, x] of xs.entries()) expect(v[i]).toBeCloseTo(x * phi[i], 5);
    y.dispose();
  });
});

describe('matMul', () => {
  it('has the same value and gradients as tf.matMul, for rank 2 and batched rank 3', () => {
    const rng = new Rng(2);
    for (const [sa, sb] of [
      [
        [3, 4],
        [4, 5],
      ],
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ] as const) {
      const a = tf.tensor(
        randomArray(
          rng,
          sa.reduce((p, q) => p * q, 1),
        ),
        [...sa],
      );
      const b = tf.tensor(
        randomArray(
          rng,
          sb.reduce((p, q) => p * q, 1),
        ),
        [...sb],
      );
      const probe = tf.tensor(randomArray(rng, sa[0] * (sa.length === 3 ? 3 * 5 : 5)), sa.length === 3 ? [2, 3, 5] : [3, 5]);
      const before = tf.memory().numTensors;
      const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x as tf.Tensor2D, y as tf.Tensor2D), probe)))([a, b]);
      const stock = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), probe)))([a, b]);
      expect(tf.memory().numTensors).toBe(before + 4);
      for (let i = 0; i < 2; i++) {
        const o = ours[i].dataSync();
        const s = stock[i].dataSync();
        for (let j = 0; j < o.length; j++) expect(o[j]).toBeCloseTo(s[j], 4);
      }
      tf.dispose([a, b, probe, ...ours, ...stock]);
    }
  });
});

describe('dropout', () => {
  it('is reproducible from the Rng, drops about `rate` and keeps the expectation', () => {
    const x = tf.ones([4000]);
    const a = dropout(x, 0.25, new Rng(3));
    const b = dropout(x, 0.25, new Rng(3));
    const av = a.dataSync();
    expect(Array.from(av)).toEqual(Array.from(b.dataSync()));
    const zeros = av.filter((v) => v === 0).length;
    // Binomial(4000, 0.25): sd ≈ 27; allow 5 sd.
    expect(Math.abs(zeros - 1000)).toBeLessThan(140);
    for (const v of av) if (v !== 0) expect(v).toBeCloseTo(1 / 0.75, 5);
    tf.dispose([x, a, b]);
  });

  it('refuses to drop without an Rng', () => {
    const x = tf.ones([4]);
    let err: unknown;
    try {
      dropout(x, 0.5, undefined);
    } catch (e) {
      err = e;
    }
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    x.dispose();
  });
});
