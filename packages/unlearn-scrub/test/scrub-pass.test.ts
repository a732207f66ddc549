import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type Model, Rng, SgdOptimizer, type Subset, crossEntropy, ensureGradients, toTensor } from '@unlearnjs/core';
import {
  createTinyModel,
  createTinySplits,
  expectMaskedWeightsZero,
  expectNoTensorLeak,
  modelState,
  setRandomMasks,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ScrubPassOptions, distillKl, scrubPass } from '../src/index.js';

const T = 4;

/** KL(teacher ‖ student) and CE of the student over a whole set, in inference mode. */
function measure(student: Model, teacher: Model, subset: Subset): { kl: number; ce: number } {
  const { x, y } = toTensor(subset);
  try {
    return tf.tidy(() => {
      const s = student.forward(x);
      return { kl: distillKl(s, teacher.forward(x), T).dataSync()[0], ce: crossEntropy(s, y).dataSync()[0] };
    });
  } finally {
    tf.dispose([x, y]);
  }
}

/** A copy of `teacher` with every weight moved by N(0, 0.05²) noise: a student that already differs. */
function perturbedCopy(teacher: Model, rng: Rng): Model {
  const student = teacher.clone(rng.fork('alloc'));
  const moved = new Map<string, tf.Tensor>();
  for (const [name, v] of student.params) {
    const noise = rng.fork(name).normalArray(v.size, 0, 0.05);
    moved.set(
      name,
      tf.tidy(() => tf.add(v, tf.tensor(noise, v.shape))),
    );
  }
  student.load(moved);
  tf.dispose([...moved.values()]);
  return student;
}

// The tiny model has no BatchNorm or dropout, so training and inference modes compute the same
// function, and one pass with a batch as large as the set is one exact gradient step on the
// objective measured here.
function passOptions(student: Model, teacher: Model, optimizer: SgdOptimizer, data: Subset, step: 'max' | 'min') {
  return {
    student,
    teacher,
    data,
    step,
    optimizer,
    lr: 0.01,
    batchSize: 1024,
    temperature: T,
    alpha: 0.001,
    gamma: 0.99,
    augment: false,
    rng: new Rng(5),
  } satisfies ScrubPassOptions;
}

describe('scrubPass', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    ensureGradients();
  });

  const splits = createTinySplits({ seed: 2, n: 120, classToForget: 3 });

  it('a max step raises KL(teacher ‖ student) on the forget set, and leaves the teacher bit-identical', async () => {
    await expectNoTensorLeak(() => {
      const teacher = createTinyModel(new Rng(1));
      const student = perturbedCopy(teacher, new Rng(2));
      const optimizer = new SgdOptimizer({ momentum: 0, weightDecay: 0 });
      try {
        const teacherBefore = modelState(teacher);
        const before = measure(student, teacher, splits.forget);
        expect(before.kl).toBeGreaterThan(0);
        const stats = scrubPass(passOptions(student, teacher, optimizer, splits.forget, 'max'));
        const after = measure(student, teacher, splits.forget);
        expect(after.kl).toBeGreaterThan(before.kl);
        // The pass reports what it saw before its (single) update: the KL measured above, and −KL as its loss.
        expect(stats.images).toBe(splits.forget.indices.length);
        expect(stats.kl).toBeCloseTo(before.kl, 5);
        expect(stats.loss).toBeCloseTo(-before.kl, 5);
        expect(modelState(teacher)).toEqual(teacherBefore);
      } finally {
        optimizer.dispose();
        student.dispose();
        teacher.dispose();
      }
    });
  });

  it('a min step lowers γ·CE + α·KL on the retain set (and each term when it has all the weight)', async () => {
    await expectNoTensorLeak(() => {
      const teacher = createTinyModel(new Rng(1));
      for (const [alpha, gamma] of [
        [0.001, 0.99],
        [1, 0],
        [0, 1],
      ]) {
        const student = perturbedCopy(teacher, new Rng(3));
        const optimizer = new SgdOptimizer({ momentum: 0, weightDecay: 0 });
        try {
          const teacherBefore = modelState(teacher);
          const objective = (m: { kl: number; ce: number }) => gamma * m.ce + alpha * m.kl;
          const before = measure(student, teacher, splits.retain);
          const stats = scrubPass({ ...passOptions(student, teacher, optimizer, splits.retain, 'min'), alpha, gamma });
          const after = measure(student, teacher, splits.retain);
          expect(objective(after), `alpha ${alpha}, gamma ${gamma}`).toBeLessThan(objective(before));
          expect(stats.loss).toBeCloseTo(objective(before), 5);
          expect(stats.ce).toBeCloseTo(before.ce, 5);
          expect(modelState(teacher)).toEqual(teacherBefore);
        } finally {
          optimizer.dispose();
          student.dispose();
        }
      }
      teacher.dispose();
    });
  });

  it('keeps masked weights exactly zero over many small steps of both kinds', async () => {
    await expectNoTensorLeak(() => {
      const teacher = createTinyModel(new Rng(1), { hidden: 8 });
      const student = teacher.clone(new Rng(9));
      const optimizer = new SgdOptimizer({ momentum: 0.9, weightDecay: 5e-4 });
      try {
        expect(setRandomMasks(student, new Rng(4))).toBeGreaterThan(0);
        const masksBefore = modelState(student).masks;
        for (const step of ['max', 'min'] as const) {
          const data = step === 'max' ? splits.forget : splits.retain;
          scrubPass({ ...passOptions(student, teacher, optimizer, data, step), lr: 0.1, batchSize: 4, augment: true });
        }
        expect(expectMaskedWeightsZero(student)).toBeGreaterThan(0);
        expect(modelState(student).masks).toEqual(masksBefore);
      } finally {
        optimizer.dispose();
        student.dispose();
        teacher.dispose();
      }
    });
  });
});
