import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  type ParamVector,
  type ProgressReporter,
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
  createTinySplits,
  describeUnlearnerContract,
  expectNoTensorLeak,
  expectUnlearnError,
  registerTinyModel,
  LINEAR_SOFTMAX_FEATURES,
  linearSoftmaxFeatures,
  subsetLabelList,
  linearSoftmaxCeGradient,
  createLinearSoftmaxModel,
  maxRelativeError,
  createRandomImageSet,
  linearSoftmaxWeights,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { INFLUENCE_VECTORS_HELD, influenceGradient, influencePlugin, registerInfluence, woodFisherSolve } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeUnlearnerContract({
  needs: ['forget', 'retain'],
  plugin: influencePlugin,
  use: [registerInfluence],
  validOptions: { alpha: 1e-3, numSamples: 8, batchSize: 32 },
  invalidOptions: [
    ['a negative alpha', { alpha: -0.5 }],
    ['numSamples 0', { numSamples: 0 }],
    ['a fractional numSamples', { numSamples: 2.5 }],
    ['batchSize 0', { batchSize: 0 }],
    ['a misspelt key', { numSample: 10 }],
  ],
});

// ---- plain-JS linear algebra (float64) --------------------------------------------------

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Solve A x = b by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** `N · (N·I + Σ_{t≥2} g_t g_tᵀ)⁻¹ v`: what the recursion equals when every gradient is the same. */
function explicitInverse(v: number[], gs: number[][], N: number): number[] {
  const d = v.length;
  const A = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? N : 0)));
  for (const g of gs.slice(1)) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) A[i][j] += g[i] * g[j];
  return solve(A, v).map((x) => N * x);
}

/** The recursion of algorithms.md, in float64 on flat arrays. */
function recursion(v: number[], gs: number[][], N: number): { k: number[]; o: number[] } {
  let k = [...v];
  let o = [...gs[0]];
  for (const g of gs.slice(1)) {
    const a = dot(k, g);
    const b = dot(o, g);
    k = k.map((x, i) => x - (a / (N + b)) * o[i]);
    o = o.map((x) => x - (b / (N + b)) * x);
  }
  return { k, o };
}

// Vectors over two tensors (shapes [3] and [2, 2]), so every dot product spans tensors.
const SHAPES: Record<string, number[]> = { a: [3], b: [2, 2] };
const DIM = 7;
function toVector(flat: number[]): ParamVector {
  return new Map([
    ['a', tf.tensor(flat.slice(0, 3), SHAPES.a)],
    ['b', tf.tensor(flat.slice(3), SHAPES.b)],
  ]);
}
function fromVector(v: ParamVector): number[] {
  return [...(v.get('a') as tf.Tensor).dataSync(), ...(v.get('b') as tf.Tensor).dataSync()];
}
const randomVector = (rng: Rng, scale: number) => Array.from({ length: DIM }, () => scale * rng.normal());
function* lazily(gs: number[][], onResume?: () => void): Generator<ParamVector> {
  for (const g of gs) {
    onResume?.();
    yield toVector(g);
  }
}

describe('woodFisherSolve', () => {
  it('equals N·(N·I + Σ_{t≥2} g gᵀ)⁻¹ v when every per-sample gradient is the same (Sherman–Morrison)', () => {
    const rng = new Rng(1);
    const g = randomVector(rng, 2);
    const v = randomVector(rng, 1);
    for (const n of [1, 2, 5, 40]) {
      const gs = Array.from({ length: n }, () => g);
      const { direction, count } = woodFisherSolve(toVector(v), lazily(gs), { damping: n });
      const k = fromVector(direction);
      disposeVector(direction);
      expect(count).toBe(n);
      expect(maxRelativeError(k, explicitInverse(v, gs, n), 1e-3)).toBeLessThan(1e-5);
    }
  });

  it('follows the reference recursion exactly for distinct gradients, where k − v stays along g₁', () => {
    const rng = new Rng(2);
    const N = 6;
    const gs = Array.from({ length: N }, () => randomVector(rng, 1.5));
    const v = randomVector(rng, 1);
    const { direction } = woodFisherSolve(toVector(v), lazily(gs), { damping: N });
    const k = fromVector(direction);
    disposeVector(direction);
    const expected = recursion(v, gs, N);
    expect(maxRelativeError(k, expected.k, 1e-3)).toBeLessThan(1e-5);
    // o is a multiple of g₁, hence k − v = β·g₁: its component orthogonal to g₁ vanishes.
    const d = k.map((x, i) => x - v[i]);
    const beta = dot(d, gs[0]) / dot(gs[0], gs[0]);
    const residual = Math.sqrt(
      dot(
        d.map((x, i) => x - beta * gs[0][i]),
        d.map((x, i) => x - beta * gs[0][i]),
      ),
    );
    expect(residual).toBeLessThan(1e-5 * Math.sqrt(dot(d, d)));
    // ...and so, for distinct gradients, it is not the explicit inverse (the public code's
    // behaviour, kept on purpose; see the TSDoc).
    expect(maxRelativeError(k, explicitInverse(v, gs, N), 1e-3)).toBeGreaterThan(1e-2);
  });

  it('holds only k, o and the current gradient: nothing accumulates across samples', () => {
    const rng = new Rng(3);
    const gs = Array.from({ length: 12 }, () => randomVector(rng, 1));
    const base = tf.memory().numTensors;
    const counts: number[] = [];
    const { direction } = woodFisherSolve(
      toVector(randomVector(rng, 1)),
      lazily(gs, () => counts.push(tf.memory().numTensors - base)),
      { damping: 12 },
    );
    // When the solver asks for gradient t ≥ 2 the previous one is gone: k and o only (2 tensors each).
    expect(counts.slice(1)).toEqual(new Array(11).fill(4));
    expect(tf.memory().numTensors - base).toBe(2);
    disposeVector(direction);
    expect(tf.memory().numTensors).toBe(base);
  });

  it('disposes everything on a bad damping or on abort', async () => {
    const base = tf.memory().numTensors;
    await expectUnlearnError(
      () => woodFisherSolve(toVector(new Array(DIM).fill(1)), lazily([]), { damping: 0 }),
      'UNLEARN_INVALID_OPTIONS',
    );
    const controller = new AbortController();
    const gs = [new Array(DIM).fill(1), new Array(DIM).fill(2), new Array(DIM).fill(3)];
    let step = 0;
    const abortAfterFirst = (function* () {
      for (const g of gs) {
        if (++step === 2) controller.abort();
        yield toVector(g);
      }
    })();
    await expectUnlearnError(
      () => woodFisherSolve(toVector(new Array(DIM).fill(1)), abortAfterFirst, { damping: 3, signal: controller.signal }),
      'UNLEARN_ABORTED',
    );
    expect(tf.memory().numTensors).toBe(base);
  });
});

// ---- the linear softmax model: closed forms ------------------------------------------

function splitOf(nForget: number, nRetain: number, seed: number): UnlearnData {
  const set = createRandomImageSet(nForget + nRetain, seed);
  const all = fullSubset(set);
  return {
    forget: subsetOf(set, all.indices.slice(0, nForget)),
    retain: subsetOf(set, all.indices.slice(nForget)),
    classToForget: -1,
  };
}

/** v of the linear model in closed form, flattened as [W (row-major), b], masked. */
function closedFormV(model: ReturnType<typeof createLinearSoftmaxModel>, data: UnlearnData, mask?: Float32Array): number[] {
  const { W, b } = linearSoftmaxWeights(model);
  const f = linearSoftmaxCeGradient(linearSoftmaxFeatures(data.forget), subsetLabelList(data.forget), W, b);
  const r = linearSoftmaxCeGradient(linearSoftmaxFeatures(data.retain), subsetLabelList(data.retain), W, b);
  const nf = data.forget.indices.length;
  const nr = data.retain.indices.length;
  const c = nf / (nf + nr);
  const gW = f.gW.flat().map((x, i) => c * (x - r.gW.flat()[i]) * (mask ? mask[i] : 1));
  return [...gW, ...f.gb.map((x, i) => c * (x - r.gb[i]))];
}

describe('influenceGradient', () => {
  it('is n_f/(n_f+n_r)·(mean ∇CE(D_f) − mean ∇CE(D_r)) in closed form, whatever the batch size', () => {
    const model = createLinearSoftmaxModel(7);
    try {
      const data = splitOf(13, 29, 8);
      const expected = closedFormV(model, data);
      for (const batchSize of [1, 8, 128]) {
        const before = tf.memory().numTensors;
        const { v, nForget, nRetain } = influenceGradient(model, data.forget, data.retain, { batchSize });
        expect([nForget, nRetain]).toEqual([13, 29]);
        const got = [...(v.get('dense.kernel') as tf.Tensor).dataSync(), ...(v.get('dense.bias') as tf.Tensor).dataSync()];
        disposeVector(v);
        expect(tf.memory().numTensors).toBe(before);
        expect(maxRelativeError(got, expected, 1e-4)).toBeLessThan(1e-4);
      }
    } finally {
      model.dispose();
    }
  });

  it('rejects an empty forget set with UNLEARN_INVALID_OPTIONS', async () => {
    const model = createLinearSoftmaxModel(7);
    try {
      const data = splitOf(3, 5, 8);
      await expectUnlearnError(() => influenceGradient(model, subsetOf(data.forget.source, []), data.retain), 'UNLEARN_INVALID_OPTIONS');
    } finally {
      model.dispose();
    }
  });
});

describe('influence unlearner', () => {
  it('moves θ by α·k, with v, the per-sample gradients and the recursion all in closed form (masked)', async () => {
    const model = createLinearSoftmaxModel(9);
    try {
      const mask = new Float32Array(LINEAR_SOFTMAX_FEATURES * 10).map((_, i) => (i % 4 === 1 ? 0 : 1));
      const m = tf.tensor(mask, [LINEAR_SOFTMAX_FEATURES, 10]);
      model.setMasks(new Map([['dense.kernel', m]]));
      m.dispose();
      const data = splitOf(10, 30, 10);
      const numSamples = 7;
      const alpha = 0.8;
      // Plain JS: masked v, masked per-sample gradients of the first 7 retain images, the recursion.
      const v = closedFormV(model, data, mask);
      const { W, b } = linearSoftmaxWeights(model);
      const xs = linearSoftmaxFeatures(data.retain).slice(0, numSamples);
      const ys = subsetLabelList(data.retain).slice(0, numSamples);
      const gs = xs.map((x, i) => {
        const g = linearSoftmaxCeGradient([x], [ys[i]], W, b);
        return [...g.gW.flat().map((val, j) => val * mask[j]), ...g.gb];
      });
      const { k } = recursion(v, gs, numSamples);
      const theta0 = [...W.flat(), ...b];
      const expected = theta0.map((t, i) => t + alpha * k[i]);

      const container = createContainer({ seed: 0, use: [registerInfluence], logger: createMemoryLogger() });
      const report = await runUnlearner(container, 'influence', { model, data, options: { alpha, numSamples, batchSize: 16 } });
      const after = [
        ...(model.params.get('dense.kernel') as tf.Variable).dataSync(),
        ...(model.params.get('dense.bias') as tf.Variable).dataSync(),
      ];
      expect(maxRelativeError(after, expected, 1e-3)).toBeLessThan(1e-4);
      for (let i = 0; i < mask.length; i++) if (mask[i] === 0) expect(Math.abs(after[i])).toBe(0);
      expect(report.extra.samples).toBe(numSamples);
      expect(report.extra.damping).toBe(numSamples);
      expect(report.extra.nForget).toBe(10);
      expect(report.extra.nRetain).toBe(30);
      expect(report.extra.kNorm as number).toBeCloseTo(Math.sqrt(dot(k, k)), 4);
      expect(report.extra.memoryBytes).toBe(INFLUENCE_VECTORS_HELD * model.numParams() * 4);
    } finally {
      model.dispose();
    }
  });

  it('holds a bounded number of tensors during the WoodFisher loop (no per-sample gradient kept)', async () => {
    const ticks: Array<{ tensors: number; bytes: number }> = [];
    const progress: ProgressReporter = {
      start: (label) => ({
        tick: () => {
          if (label.includes('woodfisher')) ticks.push({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes });
        },
        end: () => {},
      }),
    };
    const container = createContainer({ seed: 0, use: [registerTinyModel, registerInfluence], logger: createMemoryLogger(), progress });
    const model = createModel(container, 'tiny');
    try {
      const s = createTinySplits({ seed: 1 });
      const data: UnlearnData = { forget: s.forget, retain: takeFirst(s.retain, 40), classToForget: s.classToForget };
      const bytesBefore = tf.memory().numBytes;
      const report = await expectNoTensorLeak(() => runUnlearner(container, 'influence', { model, data, options: { numSamples: 25 } }));
      expect(ticks.length).toBe(25);
      // After each sample: the same tensors alive (k and o), so nothing grows with N...
      expect(new Set(ticks.slice(1).map((t) => t.tensors)).size).toBe(1);
      // ...and the bytes held beyond the model stay within the reported budget.
      for (const t of ticks) expect(t.bytes - bytesBefore).toBeLessThanOrEqual(report.extra.memoryBytes as number);
      expect(report.extra.vectorsHeld).toBe(3);
    } finally {
      model.dispose();
    }
  });

  it('uses every retain image when numSamples exceeds |D_r|', async () => {
    const model = createLinearSoftmaxModel(12);
    try {
      const data = splitOf(4, 9, 13);
      const container = createContainer({ seed: 0, use: [registerInfluence], logger: createMemoryLogger() });
      const report = await runUnlearner(container, 'influence', { model, data });
      expect(report.extra.samples).toBe(9);
      expect(report.extra.damping).toBe(9);
      expect(report.extra.alpha).toBe(0.2);
    } finally {
      model.dispose();
    }
  });

  it('rejects alpha < 0 and numSamples < 1 with UNLEARN_INVALID_OPTIONS', async () => {
    const model = createLinearSoftmaxModel(12);
    try {
      const data = splitOf(4, 9, 13);
      const container = createContainer({ seed: 0, use: [registerInfluence], logger: createMemoryLogger() });
      await expectUnlearnError(
        () => runUnlearner(container, 'influence', { model, data, options: { alpha: -1 } }),
        'UNLEARN_INVALID_OPTIONS',
      );
      await expectUnlearnError(
        () => runUnlearner(container, 'influence', { model, data, options: { numSamples: 0 } }),
        'UNLEARN_INVALID_OPTIONS',
      );
    } finally {
      model.dispose();
    }
  });
});
