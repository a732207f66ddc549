import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type Subset, disposeVector } from '@unlearnjs/core';
import {
  createLinearSoftmaxModel,
  createRandomImageSet,
  expectNoTensorLeak,
  expectUnlearnError,
  linearSoftmaxCeGradient,
  linearSoftmaxFeatures,
  linearSoftmaxWeights,
  maxRelativeError,
  subsetLabelList,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { saliencyMask, saliencyScores } from '../src/index.js';

/** `|Σ_batches mean-gradient of CE over the batch|` in float64, batches in subset order: the reference's accumulation. */
function analyticSaliency(forget: Subset, W: number[][], b: number[], batchSize: number): { kernel: number[]; bias: number[] } {
  const xs = linearSoftmaxFeatures(forget);
  const ys = subsetLabelList(forget);
  const kernel = new Array<number>(W.length * b.length).fill(0);
  const bias = new Array<number>(b.length).fill(0);
  for (let s = 0; s < xs.length; s += batchSize) {
    // The gradient of −CE is minus that of CE; the absolute value removes the sign.
    const { gW, gb } = linearSoftmaxCeGradient(xs.slice(s, s + batchSize), ys.slice(s, s + batchSize), W, b);
    gW.forEach((row, f) => {
      for (let c = 0; c < row.length; c++) kernel[f * b.length + c] += row[c];
    });
    gb.forEach((v, c) => {
      bias[c] += v;
    });
  }
  return { kernel: kernel.map(Math.abs), bias: bias.map(Math.abs) };
}

/** The ⌊N·ratio⌋ largest of `values` (ties to the earlier position) as a 0/1 array. */
function topK(values: number[], ratio: number): { mask: number[]; gap: number } {
  const k = Math.floor(values.length * ratio);
  const order = values.map((v, i) => [v, i] as const).sort((p, q) => q[0] - p[0] || p[1] - q[1]);
  const mask = new Array<number>(values.length).fill(0);
  for (let r = 0; r < k; r++) mask[order[r][1]] = 1;
  // Relative gap between the last weight kept and the first left out.
  const gap = k > 0 && k < values.length ? (order[k - 1][0] - order[k][0]) / order[k - 1][0] : 1;
  return { mask, gap };
}

function maskValues(mask: tf.Tensor): number[] {
  return Array.from(mask.dataSync(), Number);
}

describe('saliencyScores on a linear softmax model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const images = createRandomImageSet(40, 11);
  const forget: Subset = { source: images, indices: Int32Array.from({ length: 20 }, (_, i) => 2 * i) };

  for (const batchSize of [20, 8]) {
    it(`equals |Σ over batches of the analytic gradient of −CE| (batch ${batchSize}${batchSize < 20 ? ', last batch smaller' : ''})`, () => {
      const model = createLinearSoftmaxModel(4);
      try {
        const { W, b } = linearSoftmaxWeights(model);
        const expected = analyticSaliency(forget, W, b, batchSize);
        const scores = saliencyScores(model, forget, { batchSize });
        try {
          expect([...scores.keys()]).toEqual(['dense.kernel', 'dense.bias']);
          // Batches' gradients of opposite signs cancel: compare against the scale of the map, in float32.
          const floor = 1e-3 * Math.max(...expected.kernel, ...expected.bias);
          expect(maxRelativeError(scores.get('dense.kernel')?.dataSync() as Float32Array, expected.kernel, floor)).toBeLessThan(1e-4);
          expect(maxRelativeError(scores.get('dense.bias')?.dataSync() as Float32Array, expected.bias, floor)).toBeLessThan(1e-4);
        } finally {
          disposeVector(scores);
        }
      } finally {
        model.dispose();
      }
    });
  }

  for (const ratio of [0.1, 0.5, 0.8]) {
    it(`gives the mask of the top ${ratio * 100}% of the analytic saliencies, ranked over kernel and bias together`, () => {
      const model = createLinearSoftmaxModel(7);
      try {
        const { W, b } = linearSoftmaxWeights(model);
        const expected = analyticSaliency(forget, W, b, 20);
        const { mask, gap } = topK([...expected.kernel, ...expected.bias], ratio);
        // The float32 scores can only reorder weights whose float64 saliencies nearly tie.
        expect(gap).toBeGreaterThan(1e-4);
        const scores = saliencyScores(model, forget, { batchSize: 20 });
        const result = saliencyMask(scores, ratio);
        try {
          const got = [
            ...maskValues(result.masks.get('dense.kernel') as tf.Tensor),
            ...maskValues(result.masks.get('dense.bias') as tf.Tensor),
          ];
          expect(got).toEqual(mask);
          expect(result.salient).toBe(Math.floor(mask.length * ratio));
          expect(result.total).toBe(mask.length);
        } finally {
          disposeVector(scores);
          for (const m of result.masks.values()) m.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  }

  it('scores a pruned weight 0 and leaks no tensor', async () => {
    await expectNoTensorLeak(() => {
      const model = createLinearSoftmaxModel(3);
      try {
        const prune = tf.tensor(
          Array.from({ length: model.params.get('dense.kernel')?.size ?? 0 }, (_, i) => (i % 3 === 0 ? 0 : 1)),
          model.params.get('dense.kernel')?.shape,
        );
        model.setMasks(new Map([['dense.kernel', prune]]));
        prune.dispose();
        const scores = saliencyScores(model, forget, { batchSize: 8 });
        try {
          const k = scores.get('dense.kernel')?.dataSync() as Float32Array;
          for (let i = 0; i < k.length; i++) if (i % 3 === 0) expect(k[i]).toBe(0);
        } finally {
          disposeVector(scores);
        }
      } finally {
        model.dispose();
      }
    });
  });

  it('refuses an empty forget set with UNLEARN_EMPTY_DATA', async () => {
    const model = createLinearSoftmaxModel(3);
    try {
      await expectUnlearnError(() => saliencyScores(model, { source: images, indices: new Int32Array(0) }), 'UNLEARN_EMPTY_DATA');
    } finally {
      model.dispose();
    }
  });
});

describe('saliencyMask', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  function scoresOf(entries: Record<string, number[]>): Map<string, tf.Tensor> {
    return new Map(Object.entries(entries).map(([name, v]) => [name, tf.tensor(v)]));
  }

  function run(entries: Record<string, number[]>, ratio: number, pruning?: Record<string, number[]>): Record<string, number[]> {
    const scores = scoresOf(entries);
    const prune = pruning ? scoresOf(pruning) : undefined;
    try {
      const { masks } = saliencyMask(scores, ratio, prune);
      const out: Record<string, number[]> = {};
      for (const [name, m] of masks) {
        expect(m.dtype).toBe('bool');
        out[name] = maskValues(m);
        m.dispose();
      }
      return out;
    } finally {
      for (const t of scores.values()) t.dispose();
      for (const t of prune?.values() ?? []) t.dispose();
    }
  }

  it('keeps exactly ⌊N·ratio⌋ weights for every ratio, ties included', async () => {
    await expectNoTensorLeak(() => {
      // Many ties: values 0..4 repeated.
      const a = Array.from({ length: 37 }, (_, i) => (i * 7) % 5);
      const b = Array.from({ length: 26 }, (_, i) => (i * 3) % 5);
      const n = a.length + b.length;
      for (const ratio of [0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.77, 0.9, 0.99, 1]) {
        const m = run({ a, b }, ratio);
        const kept = [...m.a, ...m.b].reduce((s, v) => s + v, 0);
        expect(kept, `ratio ${ratio}`).toBe(Math.floor(n * ratio));
        // Nothing left out scores above anything kept.
        const values = [...a, ...b];
        const flags = [...m.a, ...m.b];
        const minKept = Math.min(...values.filter((_, i) => flags[i] === 1));
        const maxLeft = Math.max(...values.filter((_, i) => flags[i] === 0));
        if (kept > 0 && kept < n) expect(minKept).toBeGreaterThanOrEqual(maxLeft);
      }
    });
  });

  it('breaks ties by position: tensors in order, each in row-major order', () => {
    // N = 7, k = 3: the 3 and the 2 are kept, then the first of the tied 1s (a[1]).
    expect(run({ a: [3, 1, 1, 1], b: [1, 2, 1] }, 0.5)).toEqual({ a: [1, 1, 0, 0], b: [0, 1, 0] });
    // All equal: the first k positions.
    expect(run({ a: [5, 5, 5], b: [5, 5] }, 0.6)).toEqual({ a: [1, 1, 1], b: [0, 0] });
    expect(run({ b: [5, 5], a: [5, 5, 5] }, 0.6)).toEqual({ b: [1, 1], a: [1, 0, 0] });
    // Same input, same mask.
    expect(run({ a: [2, 2, 1, 2], b: [2, 0] }, 0.5)).toEqual(run({ a: [2, 2, 1, 2], b: [2, 0] }, 0.5));
  });

  it('ranks pruned weights below every unpruned one', () => {
    // The pruned a[0] has the largest score, yet the unpruned zero scores are kept before it.
    expect(run({ a: [9, 0, 0, 4] }, 0.75, { a: [0, 1, 1, 1] })).toEqual({ a: [0, 1, 1, 1] });
    expect(run({ a: [9, 0, 0, 4] }, 1, { a: [0, 1, 1, 1] })).toEqual({ a: [1, 1, 1, 1] });
  });

  it('refuses a ratio outside [0, 1] and a non-finite saliency', async () => {
    const scores = scoresOf({ a: [1, Number.NaN] });
    try {
      await expectUnlearnError(() => saliencyMask(scores, 1.5), 'UNLEARN_INVALID_OPTIONS');
      await expectUnlearnError(() => saliencyMask(scores, Number.NaN), 'UNLEARN_INVALID_OPTIONS');
      await expectUnlearnError(() => saliencyMask(scores, 0.5), 'UNLEARN_NON_FINITE_LOSS');
    } finally {
      for (const t of scores.values()) t.dispose();
    }
  });
});
