import { describe, expect, it } from 'vitest';
import {
  Rng,
  isUnlearnError,
  type ImageSet,
  type Subset,
  createImageSet,
  fullSubset,
  makeSplits,
  subsetLabels,
  subsetOf,
  subsetSize,
  takeFirst,
  takePerClass,
} from '@unlearnjs/core';

/** `n` blank images whose labels cycle through the classes in a seeded order. */
function synthetic(n: number, seed = 0): ImageSet {
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % 10;
  new Rng(seed).shuffle(labels);
  return createImageSet({ images: new Uint8Array(n * 3072), labels });
}

const train = synthetic(2000, 1);
const test = synthetic(300, 2);

const sorted = (a: Int32Array) => Array.from(a).sort((x, y) => x - y);
const classCounts = (s: Subset) => {
  const c = new Array(10).fill(0);
  for (const l of subsetLabels(s)) c[l]++;
  return c;
};

function codeOf(f: () => unknown): { code: string; details: Readonly<Record<string, unknown>>; message: string } {
  try {
    f();
  } catch (err) {
    if (isUnlearnError(err)) return { code: err.code, details: err.details, message: err.message };
    throw err;
  }
  throw new Error('expected a throw');
}

describe('makeSplits', () => {
  it('partitions train into train split + validation and train split into forget + retain', () => {
    for (const classToForget of [-1, 4]) {
      const s = makeSplits(train, test, { seed: 3, classToForget });
      expect(sorted(new Int32Array([...s.train.indices, ...s.validation.indices]))).toEqual(sorted(fullSubset(train).indices));
      const f = new Set(s.forget.indices);
      expect(s.retain.indices.some((i) => f.has(i))).toBe(false); // forget ∩ retain = ∅
      expect(sorted(new Int32Array([...s.forget.indices, ...s.retain.indices]))).toEqual(Array.from(s.train.indices));
      expect(new Set(s.validation.indices).size).toBe(subsetSize(s.validation));
      for (const sub of [s.train, s.forget, s.retain, s.validation]) expect(sub.source).toBe(train);
    }
  });

  it('gives the same splits for the same seed and different ones for another seed', () => {
    const a = makeSplits(train, test, { seed: 7 });
    const b = makeSplits(train, test, { seed: 7 });
    const c = makeSplits(train, test, { seed: 8 });
    for (const k of ['train', 'validation', 'forget', 'retain', 'test'] as const) {
      expect(Array.from(a[k].indices)).toEqual(Array.from(b[k].indices));
    }
    expect(Array.from(a.forget.indices)).not.toEqual(Array.from(c.forget.indices));
    expect(Array.from(a.validation.indices)).not.toEqual(Array.from(c.validation.indices));
  });

  it('stratifies validation: 10% by default, each class its share', () => {
    const s = makeSplits(train, test, { seed: 1 });
    expect(subsetSize(s.validation)).toBe(200);
    expect(classCounts(s.validation)).toEqual(new Array(10).fill(20));
    const t = makeSplits(train, test, { seed: 1, validationSize: 50 });
    expect(classCounts(t.validation)).toEqual(new Array(10).fill(5));
    expect(subsetSize(makeSplits(train, test, { seed: 1, validationSize: 0 }).validation)).toBe(0);
    // Validation does not depend on the forget options (separate forks of the seed).
    const u = makeSplits(train, test, { seed: 1, classToForget: 2 });
    expect(Array.from(u.validation.indices)).toEqual(Array.from(s.validation.indices));
  });

  it('class-wise: forgets every train image of the class, drops it from testRetainClasses', () => {
    const s = makeSplits(train, test, { seed: 2, classToForget: 6 });
    expect(s.classToForget).toBe(6);
    expect(subsetSize(s.forget)).toBe(classCounts(s.train)[6]);
    expect(subsetSize(s.forget)).toBe(180);
    expect(subsetLabels(s.forget).every((l) => l === 6)).toBe(true);
    expect(subsetLabels(s.retain).every((l) => l !== 6)).toBe(true);
    expect(subsetLabels(s.testRetainClasses).every((l) => l !== 6)).toBe(true);
    expect(subsetSize(s.testRetainClasses)).toBe(270);
    expect(subsetSize(s.test)).toBe(300);
    const some = makeSplits(train, test, { seed: 2, classToForget: 6, numToForget: 40 });
    expect(subsetSize(some.forget)).toBe(40);
    expect(subsetLabels(some.forget).every((l) => l === 6)).toBe(true);
    expect(classCounts(some.retain)[6]).toBe(140);
    // Only part of the class is forgotten: the reference keeps the class in its test loader.
    expect(subsetSize(some.testRetainClasses)).toBe(300);
    // numToForget equal to the class size is the whole class.
    const all = makeSplits(train, test, { seed: 2, classToForget: 6, numToForget: 180 });
    expect(subsetSize(all.testRetainClasses)).toBe(270);
  });

  it('random: draws numToForget (default 10% of the train split) from all classes', () => {
    const s = makeSplits(train, test, { seed: 5 });
    expect(s.classToForget).toBe(-1);
    expect(subsetSize(s.forget)).toBe(180);
    expect(classCounts(s.forget).filter((c) => c > 0).length).toBe(10);
    expect(subsetSize(s.testRetainClasses)).toBe(300);
    expect(subsetSize(makeSplits(train, test, { seed: 5, classToForget: -1, numToForget: 33 }).forget)).toBe(33);
  });

  it('random forgetting picks each train image with probability numToForget / train size', () => {
    const small = synthetic(200, 3);
    const hits = new Int32Array(200);
    const seeds = 400;
    for (let seed = 0; seed < seeds; seed++) {
      for (const i of makeSplits(small, test, { seed, validationSize: 0, numToForget: 20 }).forget.indices) hits[i]++;
    }
    // Binomial(400, 0.1): mean 40, sd 6; 5 sd either side.
    for (const h of hits) {
      expect(h).toBeGreaterThan(40 - 30);
      expect(h).toBeLessThan(40 + 30);
    }
  });

  it('uses only the first trainLimit images', () => {
    const s = makeSplits(train, test, { seed: 1, trainLimit: 500 });
    expect(subsetSize(s.train) + subsetSize(s.validation)).toBe(500);
    expect(Math.max(...s.train.indices, ...s.validation.indices)).toBeLessThan(500);
    expect(subsetSize(s.validation)).toBe(50);
  });

  it('rejects bad options with UNLEARN_INVALID_OPTIONS naming the field and range', () => {
    const bad: [Record<string, number>, string][] = [
      [{ classToForget: 10 }, 'classToForget'],
      [{ classToForget: -2 }, 'classToForget'],
      [{ classToForget: 1.5 }, 'classToForget'],
      [{ numToForget: 1801 }, 'numToForget'],
      [{ numToForget: 0 }, 'numToForget'],
      [{ classToForget: 3, numToForget: 181 }, 'numToForget'],
      [{ validationSize: 2000 }, 'validationSize'],
      [{ trainLimit: 2001 }, 'trainLimit'],
      [{ seed: 0.5 }, 'seed'],
    ];
    for (const [o, field] of bad) {
      const e = codeOf(() => makeSplits(train, test, { seed: 1, ...o }));
      expect(e.code).toBe('UNLEARN_INVALID_OPTIONS');
      expect(e.details.field).toBe(field);
      expect(e.message).toContain(field);
    }
    expect(codeOf(() => makeSplits(train, test, { seed: 1, classToForget: 10 })).message).toContain('-1..9');
  });
});

describe('subset helpers', () => {
  const all = fullSubset(train);

  it('takeFirst is a view of the first n', () => {
    const f = takeFirst(all, 5);
    expect(Array.from(f.indices)).toEqual([0, 1, 2, 3, 4]);
    expect(f.indices.buffer).toBe(all.indices.buffer);
    expect(subsetSize(takeFirst(all, 10_000))).toBe(2000);
    expect(codeOf(() => takeFirst(all, -1)).code).toBe('UNLEARN_INVALID_OPTIONS');
  });

  it('subsetLabels follows the subset order', () => {
    const s = subsetOf(train, [5, 0, 9]);
    expect(Array.from(subsetLabels(s))).toEqual([train.labels[5], train.labels[0], train.labels[9]]);
    expect(codeOf(() => subsetOf(train, [2000])).code).toBe('UNLEARN_INVALID_OPTIONS');
  });

  it('takePerClass takes the first N of each class by default, a seeded choice with an rng', () => {
    const s = takePerClass(all, 3);
    expect(classCounts(s)).toEqual(new Array(10).fill(3));
    for (let c = 0; c < 10; c++) {
      const firstOfClass = Array.from(all.indices)
        .filter((i) => train.labels[i] === c)
        .slice(0, 3);
      expect(Array.from(s.indices).filter((i) => train.labels[i] === c)).toEqual(firstOfClass);
    }
    const r1 = takePerClass(all, 3, new Rng(4));
    const r2 = takePerClass(all, 3, new Rng(4));
    expect(Array.from(r1.indices)).toEqual(Array.from(r2.indices));
    expect(classCounts(r1)).toEqual(new Array(10).fill(3));
    expect(Array.from(r1.indices)).not.toEqual(Array.from(s.indices));
    expect(Array.from(r1.indices)).toEqual(sorted(r1.indices)); // kept in subset order
    expect(classCounts(takePerClass(takeFirst(all, 20), 100))).toEqual(classCounts(takeFirst(all, 20)));
  });
});
