import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@unlearnjs/core';
import { applyGlobalMagnitudePruning, formatSparsity, globalMagnitudeMasks, sparsityReport } from '@unlearnjs/pruning-imp';
import { createTinyModel, expectMaskedWeightsZero, expectNoTensorLeak, expectUnlearnError, setRandomMasks } from '@unlearnjs/testing';
import { describe, expect, it } from 'vitest';
import { setWeights, useCpu, values } from './fixtures.js';

useCpu();

const NAMES = ['conv.kernel', 'dense.kernel'] as const;

function disposeAll(m: Map<string, tf.Tensor>): void {
  for (const t of m.values()) t.dispose();
}

describe('globalMagnitudeMasks', () => {
  it('removes exactly round(rate × alive) weights, the smallest |w| across layers together', () => {
    const model = createTinyModel(new Rng(1), { channels: 2 });
    try {
      const total = NAMES.reduce((s, n) => s + (model.params.get(n)?.size ?? 0), 0);
      for (const rate of [0.2, 0.5, 0.95]) {
        const masks = globalMagnitudeMasks(model, { rate });
        try {
          let kept = 0;
          let maxPruned = 0;
          let minKept = Number.POSITIVE_INFINITY;
          for (const n of NAMES) {
            const w = values(model.params.get(n));
            const m = values(masks.get(n));
            expect(m.length).toBe(w.length);
            for (let i = 0; i < m.length; i++) {
              expect(m[i] === 0 || m[i] === 1).toBe(true);
              if (m[i] === 1) {
                kept++;
                minKept = Math.min(minKept, Math.abs(w[i]));
              } else maxPruned = Math.max(maxPruned, Math.abs(w[i]));
            }
          }
          expect(total - kept).toBe(Math.round(rate * total));
          expect(maxPruned).toBeLessThanOrEqual(minKept);
        } finally {
          disposeAll(masks);
        }
      }
    } finally {
      model.dispose();
    }
  });

  it('counts only the weights still alive and keeps pruned positions pruned', () => {
    const model = createTinyModel(new Rng(2), { channels: 2 });
    try {
      const already = setRandomMasks(model, new Rng(3), 0.7);
      const total = NAMES.reduce((s, n) => s + (model.params.get(n)?.size ?? 0), 0);
      const alive = total - already;
      const masks = globalMagnitudeMasks(model, { rate: 0.3 });
      try {
        let pruned = 0;
        for (const n of NAMES) {
          const before = values(model.masks.get(n));
          const after = values(masks.get(n));
          for (let i = 0; i < after.length; i++) {
            if (before[i] === 0) expect(after[i]).toBe(0);
            if (after[i] === 0) pruned++;
          }
        }
        expect(pruned - already).toBe(Math.round(0.3 * alive));
      } finally {
        disposeAll(masks);
      }
    } finally {
      model.dispose();
    }
  });

  it('breaks ties at the threshold by layer order then flat index, with an exact count', () => {
    const model = createTinyModel(new Rng(4), { channels: 2 });
    try {
      const conv = model.params.get('conv.kernel')?.size ?? 0; // 54
      const dense = model.params.get('dense.kernel')?.size ?? 0; // 1280
      // Every weight has |w| = 0.5 except 10 dense weights at 0.1 (smallest) and 10 at 2 (largest).
      const c = new Float32Array(conv).map((_, i) => (i % 2 ? 0.5 : -0.5));
      const d = new Float32Array(dense).fill(0.5);
      for (let i = 0; i < 10; i++) {
        d[100 + i] = 0.1;
        d[200 + i] = -2;
      }
      setWeights(model, { 'conv.kernel': c, 'dense.kernel': d });
      const k = 40; // 10 below the threshold, then 30 ties: all from conv (layer order), indices 0..29
      const rate = k / (conv + dense);
      expect(Math.round(rate * (conv + dense))).toBe(k);
      const masks = globalMagnitudeMasks(model, { rate });
      try {
        const mc = values(masks.get('conv.kernel'));
        const md = values(masks.get('dense.kernel'));
        for (let i = 0; i < conv; i++) expect(mc[i]).toBe(i < 30 ? 0 : 1);
        for (let i = 0; i < dense; i++) expect(md[i]).toBe(i >= 100 && i < 110 ? 0 : 1);
      } finally {
        disposeAll(masks);
      }
      // With more ties than conv holds, the rest come from dense in index order (skipping the 0.1s, already taken).
      const k2 = 10 + conv + 5;
      const masks2 = globalMagnitudeMasks(model, { rate: k2 / (conv + dense) });
      try {
        expect(values(masks2.get('conv.kernel')).every((v) => v === 0)).toBe(true);
        const md = values(masks2.get('dense.kernel'));
        const prunedIdx = [...md.keys()].filter((i) => md[i] === 0);
        expect(prunedIdx).toEqual([0, 1, 2, 3, 4, ...Array.from({ length: 10 }, (_, i) => 100 + i)]);
      } finally {
        disposeAll(masks2);
      }
    } finally {
      model.dispose();
    }
  });

  it('ranks only the named weights; applyGlobalMagnitudePruning keeps the other masks and zeroes pruned weights', () => {
    const model = createTinyModel(new Rng(5), { channels: 2 });
    try {
      setRandomMasks(model, new Rng(6), 0.5);
      const denseMaskBefore = values(model.masks.get('dense.kernel'));
      const convAlive = values(model.masks.get('conv.kernel')).reduce((a, b) => a + b, 0);
      const report = applyGlobalMagnitudePruning(model, { rate: 0.5, names: ['conv.kernel'] });
      expect(values(model.masks.get('dense.kernel'))).toEqual(denseMaskBefore);
      const convAfter = values(model.masks.get('conv.kernel')).reduce((a, b) => a + b, 0);
      expect(convAlive - convAfter).toBe(Math.round(0.5 * convAlive));
      expectMaskedWeightsZero(model);
      expect(report).toEqual(sparsityReport(model));
    } finally {
      model.dispose();
    }
  });

  it('rejects bad rates, unknown names, NaN weights, and a mask of the wrong shape', async () => {
    const model = createTinyModel(new Rng(7), { channels: 2 });
    try {
      for (const rate of [-0.1, 1.5, Number.NaN]) {
        await expectUnlearnError(() => globalMagnitudeMasks(model, { rate }), 'UNLEARN_INVALID_OPTIONS');
      }
      await expectUnlearnError(() => globalMagnitudeMasks(model, { rate: 0.5, names: ['dense.bias'] }), 'UNLEARN_INVALID_OPTIONS');
      await expectUnlearnError(() => globalMagnitudeMasks(model, { rate: 0.5, names: ['nope'] }), 'UNLEARN_INVALID_OPTIONS');
      const bad = tf.ones([3, 3, 3, 5]);
      try {
        await expectUnlearnError(() => model.setMasks(new Map([['conv.kernel', bad]])), 'UNLEARN_MASK_MISMATCH');
      } finally {
        bad.dispose();
      }
      const w = values(model.params.get('conv.kernel'));
      w[3] = Number.NaN;
      setWeights(model, { 'conv.kernel': w });
      await expectUnlearnError(() => globalMagnitudeMasks(model, { rate: 0.5 }), 'UNLEARN_NON_FINITE_SCORE');
    } finally {
      model.dispose();
    }
  });

  it('leaks no tensors', async () => {
    const model = createTinyModel(new Rng(8), { channels: 2 });
    try {
      setRandomMasks(model, new Rng(11), 0.9); // the model owns one mask per prunable weight from here on
      await expectNoTensorLeak(() => {
        disposeAll(globalMagnitudeMasks(model, { rate: 0.5 }));
        applyGlobalMagnitudePruning(model, { rate: 0.5 });
        applyGlobalMagnitudePruning(model, { rate: 0.5, names: ['dense.kernel'] });
      });
    } finally {
      model.dispose();
    }
  });
});

describe('sparsityReport and formatSparsity', () => {
  it('counts mask zeros per layer and globally', () => {
    const model = createTinyModel(new Rng(9), { channels: 2 });
    try {
      const dense = sparsityReport(model);
      expect(dense.pruned).toBe(0);
      expect(dense.total).toBe(54 + 1280);
      const pruned = setRandomMasks(model, new Rng(10), 0.25);
      const r = sparsityReport(model);
      expect(r.pruned).toBe(pruned);
      expect(r.global).toBeCloseTo(pruned / r.total, 12);
      expect(r.layers.map((l) => l.name)).toEqual(['conv.kernel', 'dense.kernel']);
      expect(r.layers.reduce((s, l) => s + l.pruned, 0)).toBe(pruned);
      const text = formatSparsity(r);
      expect(text.split('\n')).toHaveLength(3);
      expect(text).toContain(`${(100 * r.global).toFixed(2)}%`);
      expect(formatSparsity(r, { layers: false }).split('\n')).toHaveLength(1);
    } finally {
      model.dispose();
    }
  });
});
