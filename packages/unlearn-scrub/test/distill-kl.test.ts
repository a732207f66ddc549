import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '@unlearnjs/core';
import { expectNoTensorLeak, expectUnlearnError } from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { distillKl } from '../src/index.js';

// Plain-number references, written from the definition (no tfjs).
function softmax(z: readonly number[], t: number): number[] {
  const m = Math.max(...z.map((v) => v / t));
  const e = z.map((v) => Math.exp(v / t - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** T²/b · Σ_i KL(softmax(t_i/T) ‖ softmax(s_i/T)), in float64. */
function klReference(student: number[][], teacher: number[][], t: number): number {
  let sum = 0;
  for (let i = 0; i < student.length; i++) {
    const ps = softmax(student[i], t);
    const pt = softmax(teacher[i], t);
    for (let c = 0; c < ps.length; c++) sum += pt[c] * Math.log(pt[c] / ps[c]);
  }
  return (sum * t * t) / student.length;
}

const STUDENT = [
  [1, 2, 3],
  [0.5, -1, 0],
];
const TEACHER = [
  [3, 2, 1],
  [0, 0, 2],
];

describe('distillKl', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    ensureGradients();
  });

  it('is T²/b times the summed KL(teacher ‖ student) of the softened distributions', async () => {
    // One row by hand at T = 2: p_s = softmax([0.5, 1, 1.5]), p_t = softmax([1.5, 1, 0.5]).
    const e = [Math.exp(0.5), Math.exp(1), Math.exp(1.5)];
    const z = e[0] + e[1] + e[2];
    const ps = e.map((v) => v / z);
    const pt = [...ps].reverse();
    const byHand = 4 * pt.reduce((acc, p, c) => acc + p * Math.log(p / ps[c]), 0);
    await expectNoTensorLeak(() => {
      const row = tf.tidy(() => distillKl(tf.tensor2d([STUDENT[0]]), tf.tensor2d([TEACHER[0]]), 2).dataSync()[0]);
      expect(row).toBeCloseTo(byHand, 5);
      for (const t of [1, 2, 4, 10]) {
        const value = tf.tidy(() => distillKl(tf.tensor2d(STUDENT), tf.tensor2d(TEACHER), t).dataSync()[0]);
        // float32 against float64: a relative tolerance (T² scales the rounding too).
        const ref = klReference(STUDENT, TEACHER, t);
        expect(Math.abs(value - ref) / ref).toBeLessThan(1e-4);
      }
    });
  });

  it('is 0 for identical logits and positive otherwise, and is not symmetric', () => {
    const same = tf.tidy(() => distillKl(tf.tensor2d(TEACHER), tf.tensor2d(TEACHER), 4).dataSync()[0]);
    expect(Math.abs(same)).toBeLessThan(1e-6);
    const forward = tf.tidy(() => distillKl(tf.tensor2d(STUDENT), tf.tensor2d(TEACHER), 1).dataSync()[0]);
    const backward = tf.tidy(() => distillKl(tf.tensor2d(TEACHER), tf.tensor2d(STUDENT), 1).dataSync()[0]);
    expect(forward).toBeGreaterThan(0);
    expect(forward).toBeCloseTo(klReference(STUDENT, TEACHER, 1), 5);
    expect(backward).toBeCloseTo(klReference(TEACHER, STUDENT, 1), 5);
    expect(Math.abs(forward - backward)).toBeGreaterThan(1e-3);
  });

  it('has the closed-form gradient T/b · (p_s − p_t) with respect to the student logits', () => {
    const t = 4;
    const b = STUDENT.length;
    const grad = tf.tidy(() => {
      const teacher = tf.tensor2d(TEACHER);
      return tf
        .grad((s: tf.Tensor) => distillKl(s as tf.Tensor2D, teacher, t))(tf.tensor2d(STUDENT))
        .arraySync() as number[][];
    });
    for (let i = 0; i < b; i++) {
      const ps = softmax(STUDENT[i], t);
      const pt = softmax(TEACHER[i], t);
      for (let c = 0; c < ps.length; c++) expect(grad[i][c]).toBeCloseTo((t / b) * (ps[c] - pt[c]), 6);
    }
  });

  it('adds exactly 0 for a teacher class whose probability underflows', () => {
    const value = tf.tidy(() => distillKl(tf.tensor2d([[0, 0, 0]]), tf.tensor2d([[0, 0, -1e4]]), 1).dataSync()[0]);
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeCloseTo(Math.log(3 / 2), 5);
  });

  it('refuses a temperature that is not > 0 and logits of different shapes', async () => {
    await expectNoTensorLeak(async () => {
      const s = tf.tensor2d(STUDENT);
      const t3 = tf.tensor2d([[1, 2, 3]]);
      try {
        for (const t of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expectUnlearnError(() => distillKl(s, s, t), 'UNLEARN_INVALID_OPTIONS');
        }
        await expectUnlearnError(() => distillKl(s, t3, 1), 'UNLEARN_INVALID_OPTIONS');
      } finally {
        tf.dispose([s, t3]);
      }
    });
  });
});
