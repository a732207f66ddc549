import * as tf from '@tensorflow/tfjs-core';
import { Rng, createModel, runPruner } from '@unlearnjs/core';
import { randomMasks, randomPlugin, registerPruningImp, synflowMasks, synflowPlugin, synflowScores } from '@unlearnjs/pruning-imp';
import {
  createTinyModel,
  describePrunerContract,
  expectMaskedWeightsZero,
  expectNoTensorLeak,
  expectUnlearnError,
  modelState,
  setRandomMasks,
} from '@unlearnjs/testing';
import { describe, expect, it } from 'vitest';
import { container, linearModel, useCpu, values } from './fixtures.js';

useCpu();

function disposeAll(m: Map<string, tf.Tensor>): void {
  for (const t of m.values()) t.dispose();
}

function zeros(m: Map<string, tf.Tensor>): number {
  let n = 0;
  for (const t of m.values()) for (const v of t.dataSync()) if (v === 0) n++;
  return n;
}

describePrunerContract({
  plugin: randomPlugin,
  use: [registerPruningImp],
  validOptions: { rate: 0.5 },
  invalidOptions: [
    ['rate 0', { rate: 0 }],
    ['rate 1', { rate: 1 }],
    ['empty names', { names: [] }],
    ['a misspelt option', { ratee: 0.5 }],
  ],
});

describePrunerContract({
  plugin: synflowPlugin,
  use: [registerPruningImp],
  validOptions: { rate: 0.8, iterations: 3 },
  invalidOptions: [
    ['rate 1', { rate: 1 }],
    ['zero iterations', { iterations: 0 }],
    ['a 2-D input shape', { inputShape: [32, 32] }],
    ['a misspelt option', { ratee: 0.5 }],
  ],
});

describe('randomMasks', () => {
  it('removes exactly round(rate × alive) alive weights, seeded', () => {
    const model = createTinyModel(new Rng(1), { channels: 2 });
    try {
      const already = setRandomMasks(model, new Rng(2), 0.6);
      const alive = 54 + 1280 - already;
      const a = randomMasks(model, new Rng(3), { rate: 0.4 });
      const b = randomMasks(model, new Rng(3), { rate: 0.4 });
      const c = randomMasks(model, new Rng(4), { rate: 0.4 });
      try {
        expect(zeros(a) - already).toBe(Math.round(0.4 * alive));
        for (const [name, m] of a) {
          const before = values(model.masks.get(name));
          const after = values(m);
          for (let i = 0; i < after.length; i++) if (before[i] === 0) expect(after[i]).toBe(0);
          expect(after).toEqual(values(b.get(name)));
        }
        expect([...a.keys()].some((n) => values(a.get(n)).some((v, i) => v !== values(c.get(n))[i]))).toBe(true);
      } finally {
        for (const m of [a, b, c]) disposeAll(m);
      }
    } finally {
      model.dispose();
    }
  });
});

describe('synflowScores', () => {
  it('equals the closed form |θ ⊙ ∂R/∂θ| of a linear network, conserves flow per layer, and restores the model', () => {
    const model = linearModel(new Rng(5), 3, 4, 2);
    try {
      // Mask one weight of l1: its score must be 0 and it must carry no flow.
      const mask = new Float32Array(12).fill(1);
      mask[5] = 0;
      const m = tf.tensor(mask, [3, 4]);
      model.setMasks(new Map([['l1.kernel', m]]));
      m.dispose();
      const before = modelState(model);
      const scores = expectNoTensorLeakSync(() => synflowScores(model, { inputShape: [1, 3, 1] }));
      expect(modelState(model)).toEqual(before);
      const A = before.params['l1.kernel'].map(Math.abs); // masked weight is already 0
      const B = before.params['l2.kernel'].map(Math.abs);
      const rowB = [0, 1, 2, 3].map((j) => B[j * 2] + B[j * 2 + 1]);
      const colA = [0, 1, 2, 3].map((j) => A[j] + A[4 + j] + A[8 + j]);
      let R = 0;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) R += A[i * 4 + j] * rowB[j];
      const s1 = scores.get('l1.kernel') as Float32Array;
      const s2 = scores.get('l2.kernel') as Float32Array;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expect(s1[i * 4 + j]).toBeCloseTo(A[i * 4 + j] * rowB[j], 4);
      for (let j = 0; j < 4; j++) for (let k = 0; k < 2; k++) expect(s2[j * 2 + k]).toBeCloseTo(B[j * 2 + k] * colA[j], 4);
      expect(s1[5]).toBe(0);
      const sum = (a: Float32Array) => a.reduce((x, y) => x + y, 0);
      expect(sum(s1)).toBeCloseTo(R, 3);
      expect(sum(s2)).toBeCloseTo(R, 3);
    } finally {
      model.dispose();
    }
  });
});

/** Run `fn` and check that the only new tensors are the ones it returns in a Map. */
function expectNoTensorLeakSync<T>(fn: () => T): T {
  const before = tf.memory().numTensors;
  const out = fn();
  expect(tf.memory().numTensors).toBe(before + (out instanceof Map && out.values().next().value instanceof tf.Tensor ? out.size : 0));
  return out;
}

describe('synflowMasks', () => {
  it('with one iteration removes the lowest-scoring weights; with many, exactly round(rate × alive); the model is unchanged', () => {
    const model = linearModel(new Rng(6), 8, 16, 4);
    try {
      const before = modelState(model);
      const total = 8 * 16 + 16 * 4;
      const scores = synflowScores(model, { inputShape: [1, 8, 1] });
      const one = expectNoTensorLeakSync(() => synflowMasks(model, { rate: 0.5, iterations: 1, inputShape: [1, 8, 1] }));
      try {
        expect(zeros(one)).toBe(total / 2);
        let maxPruned = 0;
        let minKept = Number.POSITIVE_INFINITY;
        for (const [name, m] of one) {
          const s = scores.get(name) as Float32Array;
          values(m).forEach((v, i) => {
            if (v === 0) maxPruned = Math.max(maxPruned, s[i]);
            else minKept = Math.min(minKept, s[i]);
          });
        }
        expect(maxPruned).toBeLessThanOrEqual(minKept);
      } finally {
        disposeAll(one);
      }
      for (const [rate, iterations] of [
        [0.9, 10],
        [0.37, 7],
      ] as const) {
        const many = synflowMasks(model, { rate, iterations, inputShape: [1, 8, 1] });
        try {
          expect(zeros(many)).toBe(Math.round(rate * total));
        } finally {
          disposeAll(many);
        }
      }
      expect(modelState(model)).toEqual(before);
    } finally {
      model.dispose();
    }
  });

  it('rejects bad rates and iterations', async () => {
    const model = linearModel(new Rng(7));
    try {
      await expectUnlearnError(() => synflowMasks(model, { rate: 2 }), 'UNLEARN_INVALID_OPTIONS');
      await expectUnlearnError(() => synflowMasks(model, { rate: 0.5, iterations: 0 }), 'UNLEARN_INVALID_OPTIONS');
    } finally {
      model.dispose();
    }
  });
});

describe('synflow and random pruners', () => {
  it('prune the tiny model to the exact rate, keep the surviving weights, and leak nothing', async () => {
    for (const name of ['synflow', 'random'] as const) {
      await expectNoTensorLeak(async () => {
        const c = container(8);
        const model = createModel(c, 'tiny', { channels: 2 });
        try {
          const before = modelState(model);
          const report = await runPruner(c, name, { model, options: { rate: 0.75, ...(name === 'synflow' ? { iterations: 5 } : {}) } });
          expect(report.rounds).toHaveLength(1);
          expect(report.sparsity.pruned).toBe(Math.round(0.75 * report.sparsity.total));
          expectMaskedWeightsZero(model);
          for (const [n, w] of model.params) {
            const now = values(w);
            const mask = model.masks.get(n) ? values(model.masks.get(n)) : undefined;
            expect([...now.keys()].filter((i) => now[i] !== (mask && mask[i] === 0 ? 0 : before.params[n][i]))).toEqual([]);
          }
        } finally {
          model.dispose();
        }
      });
    }
  });
});
