import { describe, expect, it } from 'vitest';
import { entropy, miaFeatureMatrix, modifiedEntropy } from '@unlearnjs/eval-mia';

const LN = Math.log;

describe('entropy', () => {
  it('matches hand computations', () => {
    expect(entropy([0.5, 0.25, 0.25])).toBeCloseTo(1.5 * LN(2), 12);
    expect(entropy([1, 0, 0])).toBe(0);
    expect(entropy([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])).toBeCloseTo(LN(10), 12);
    expect(entropy([0.9, 0.1])).toBeCloseTo(-(0.9 * LN(0.9) + 0.1 * LN(0.1)), 12);
  });
});

describe('modifiedEntropy (Song & Mittal)', () => {
  it('matches −(1−p_y) log p_y − Σ_{i≠y} p_i log(1−p_i) by hand', () => {
    const p = [0.5, 0.25, 0.25];
    // y = 0: −0.5 ln 0.5 − 2 · 0.25 ln 0.75 = 0.5 ln(8/3)
    expect(modifiedEntropy(p, 0)).toBeCloseTo(0.5 * LN(8 / 3), 12);
    // y = 1: −0.75 ln 0.25 − 0.5 ln 0.5 − 0.25 ln 0.75
    expect(modifiedEntropy(p, 1)).toBeCloseTo(-0.75 * LN(0.25) - 0.5 * LN(0.5) - 0.25 * LN(0.75), 12);
    expect(modifiedEntropy([0.9, 0.1], 1)).toBeCloseTo(-0.9 * LN(0.1) - 0.9 * LN(0.1), 12);
  });

  it('is 0 for a certain correct prediction and clamps log 0 to log 1e-30 for a certain wrong one', () => {
    expect(modifiedEntropy([1, 0, 0], 0)).toBe(0);
    // −(1 − 0) log(1e-30) − 1 · log(1e-30) − 0
    expect(modifiedEntropy([1, 0, 0], 1)).toBeCloseTo(-2 * LN(1e-30), 9);
    expect(Number.isFinite(modifiedEntropy([0, 1, 0], 0))).toBe(true);
  });

  it('grows as the true class gets less likely', () => {
    const values = [0.99, 0.9, 0.6, 0.3, 0.05].map((py) => modifiedEntropy([py, 1 - py], 0));
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);
  });

  it('refuses a label outside the vector', () => {
    expect(() => modifiedEntropy([0.5, 0.5], 2)).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
  });
});

describe('miaFeatureMatrix', () => {
  const probs = Float32Array.of(0.7, 0.2, 0.1, 0.4, 0.4, 0.2);
  const labels = Uint8Array.of(0, 1);

  it('computes each feature per sample', () => {
    const conf = miaFeatureMatrix(probs, labels, 3, 'confidence');
    expect(conf.cols).toBe(1);
    expect(conf.data[0]).toBeCloseTo(0.7, 6);
    expect(conf.data[1]).toBeCloseTo(0.4, 6);
    // Ties go to the first maximum (argmax), so sample 1 (label 1, tie between 0 and 1) is wrong.
    expect(Array.from(miaFeatureMatrix(probs, labels, 3, 'correctness').data)).toEqual([1, 0]);
    const ent = miaFeatureMatrix(probs, labels, 3, 'entropy');
    expect(ent.data[1]).toBeCloseTo(entropy([0.4, 0.4, 0.2]), 6);
    const me = miaFeatureMatrix(probs, labels, 3, 'm-entropy');
    expect(me.data[0]).toBeCloseTo(modifiedEntropy([0.7, 0.2, 0.1], 0), 6);
    const prob = miaFeatureMatrix(probs, labels, 3, 'prob');
    expect([prob.rows, prob.cols]).toEqual([2, 3]);
    expect(Array.from(prob.data)).toEqual(Array.from(probs));
  });

  it('refuses mismatched sizes', () => {
    expect(() => miaFeatureMatrix(probs, labels, 4, 'confidence')).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
  });
});
