import { describe, expect, it } from 'vitest';
import { Rng, UnlearnError, isUnlearnError } from '@unlearnjs/core';

describe('Rng', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    const sb = Array.from({ length: 20 }, () => b.nextUint32());
    const sc = Array.from({ length: 20 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('resumes exactly from a saved state', () => {
    const a = new Rng(3);
    for (let i = 0; i < 5; i++) a.next();
    const b = Rng.fromState(a.state());
    expect(Array.from({ length: 10 }, () => a.next())).toEqual(Array.from({ length: 10 }, () => b.next()));
  });

  it('forks without advancing the parent, and forks differ by label', () => {
    const a = new Rng(1);
    const before = a.state();
    const f1 = a.fork('x');
    const f2 = a.fork('y');
    expect(a.state()).toEqual(before);
    expect(f1.nextUint32()).not.toBe(f2.nextUint32());
  });

  it('samples normals with mean 0 and variance 1 within 4 standard errors', () => {
    const r = new Rng(11);
    const n = 200_000;
    const xs = r.normalArray(n);
    let m = 0;
    for (const x of xs) m += x;
    m /= n;
    let v = 0;
    for (const x of xs) v += (x - m) ** 2;
    v /= n - 1;
    expect(Math.abs(m)).toBeLessThan(4 / Math.sqrt(n));
    // var of the sample variance of a normal is 2/(n-1)
    expect(Math.abs(v - 1)).toBeLessThan(4 * Math.sqrt(2 / (n - 1)));
  });

  it('permutes every index exactly once', () => {
    const p = new Rng(5).permutation(1000);
    expect(new Set(p).size).toBe(1000);
    expect(Math.min(...p)).toBe(0);
    expect(Math.max(...p)).toBe(999);
  });
});

describe('UnlearnError', () => {
  it('carries a stable code, frozen details and the cause', () => {
    const cause = new Error('inner');
    const e = new UnlearnError('UNLEARN_DATA_CORRUPT', 'bad file', { details: { file: 'a.bin' }, cause });
    expect(isUnlearnError(e, 'UNLEARN_DATA_CORRUPT')).toBe(true);
    expect(isUnlearnError(e, 'UNLEARN_ABORTED')).toBe(false);
    expect(e.details.file).toBe('a.bin');
    expect(Object.isFrozen(e.details)).toBe(true);
    expect(e.cause).toBe(cause);
  });
});
