import * as tf from '@tensorflow/tfjs-core';
import { type Model, type Rng, type SgdOptimizer, type Subset, UnlearnError, batches, crossEntropy, throwIfAborted } from '@unlearnjs/core';
import { distillKl } from './distill-kl.js';

/**
 * Which of SCRUB's two steps a pass takes: `'max'` raises KL(teacher ‖ student) on its data
 * (SCRUB's "maximize" split, run on D_f), `'min'` lowers γ·CE + α·KL(teacher ‖ student) on
 * its data (the "minimize" split, run on D_r).
 */
export type ScrubStep = 'max' | 'min';

/** What {@link scrubPass} needs. */
export interface ScrubPassOptions {
  /** The model being unlearned, trained in place (its trainable variables; masks respected). */
  student: Model;
  /** The frozen copy of the original model (read only, evaluated in inference mode). */
  teacher: Model;
  /** The images of the pass: each is visited once, in a seeded shuffled order. */
  data: Subset;
  /** `'max'` (minimise −KL) or `'min'` (minimise γ·CE + α·KL). */
  step: ScrubStep;
  /** The optimiser; its momentum carries over from pass to pass (one optimiser per run, as SCRUB). */
  optimizer: SgdOptimizer;
  /** Learning rate of every step of the pass. */
  lr: number;
  /** Images per step. */
  batchSize: number;
  /** Distillation temperature T of the KL. */
  temperature: number;
  /** Weight of the KL in the min step (SCRUB's `alpha`). Unused by the max step. */
  alpha: number;
  /** Weight of the cross-entropy in the min step (SCRUB's `gamma`). Unused by the max step. */
  gamma: number;
  /** Random crop (4-pixel padding) + horizontal flip on the pass's images. */
  augment: boolean;
  /** Order, augmentation and dropout of the pass (same state, same pass). */
  rng: Rng;
  /** Checked before every step: `UNLEARN_ABORTED` when it fires. */
  signal?: AbortSignal;
  /** Called after every step with its image count and running means (for progress bars). */
  onStep?: (images: number, running: ScrubPassStats) => void;
  /** Label of the pass in error messages. @defaultValue `scrub ${step}` */
  label?: string;
}

/** Means over the images of a pass, each measured on its batch before the batch's update. */
export interface ScrubPassStats {
  /** Mean objective the pass minimised: −KL for `'max'`, γ·CE + α·KL for `'min'`. */
  loss: number;
  /** Mean KL(teacher ‖ student) at temperature T. */
  kl: number;
  /** Mean cross-entropy of the student against the labels. */
  ce: number;
  /** Share of images the student classified right, percent. */
  accuracy: number;
  /** Images seen. */
  images: number;
}

/**
 * Take one pass of SCRUB steps over a set: for each shuffled batch, compute the teacher's
 * logits (inference mode, outside the gradient tape), the student's (training mode), the
 * step's objective, its gradient with respect to the student's trainable variables, and one
 * SGD update that keeps masked weights exactly zero.
 *
 * @param options - see {@link ScrubPassOptions}
 * @returns the pass's means ({@link ScrubPassStats}); plain numbers, nothing to dispose. Every
 *   tensor a step creates is freed before the next step.
 * @throws UnlearnError `UNLEARN_NON_FINITE_LOSS` when a batch's objective is NaN/Inf (the
 *   update is not applied; `runUnlearner` restores the model), `UNLEARN_ABORTED` when the
 *   signal fires, `UNLEARN_INVALID_OPTIONS` from the batching or the KL
 * @remarks SCRUB's `train_distill` (meghdadk/SCRUB, `thirdparty/repdistiller/helper/loops.py`):
 * the student runs in training mode in both steps (BatchNorm batch statistics, dropout on) and
 * the teacher in eval mode; the max step's loss is `-loss_div`, the min step's
 * `gamma * loss_cls + alpha * loss_div` (its `beta * loss_kd` term is 0 for plain KL
 * distillation, `distill = 'kd'`, and is left out).
 */
export function scrubPass(options: ScrubPassOptions): ScrubPassStats {
  const { student, teacher, step, temperature, alpha, gamma, rng } = options;
  const label = options.label ?? `scrub ${step}`;
  const vars = student.trainableVariables();
  const varList = [...vars.values()];
  let loss = 0;
  let kl = 0;
  let ce = 0;
  let correct = 0;
  let images = 0;
  let index = 0;
  const batchOptions = { batchSize: options.batchSize, shuffle: true, augment: options.augment, rng };
  for (const batch of batches(options.data, batchOptions)) {
    try {
      throwIfAborted(options.signal);
      const b = batch.x.shape[0];
      const { stats, grads } = tf.tidy(() => {
        const teacherLogits = teacher.forward(batch.x);
        let parts: tf.Tensor1D | undefined;
        const r = tf.variableGrads(() => {
          const logits = student.forward(batch.x, { training: true, rng });
          const div = distillKl(logits, teacherLogits, temperature);
          const cls = crossEntropy(logits, batch.y);
          const objective = step === 'max' ? tf.neg(div) : tf.add(tf.mul(gamma, cls), tf.mul(alpha, div));
          const right = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(batch.y, 'int32')), 'float32'));
          parts = tf.keep(tf.stack([objective, div, cls, right]) as tf.Tensor1D);
          return objective as tf.Scalar;
        }, varList);
        // variableGrads keys gradients by the variables' own names; the optimiser by the model's.
        const named: Record<string, tf.Tensor> = {};
        for (const [name, v] of vars) {
          const g = r.grads[v.name];
          if (g) named[name] = g;
        }
        return { stats: parts as tf.Tensor1D, grads: named };
      });
      const [objective, div, cls, right] = stats.dataSync();
      stats.dispose();
      if (!Number.isFinite(objective)) {
        tf.dispose(Object.values(grads));
        throw new UnlearnError(
          'UNLEARN_NON_FINITE_LOSS',
          `${label}: the loss became ${objective} at batch ${index + 1}; lower the learning rate (now ${options.lr})${step === 'max' ? ' or the number of max steps (msteps)' : ''}.`,
          { details: { step, batch: index, lr: options.lr, loss: objective } },
        );
      }
      options.optimizer.step(vars, grads, options.lr, student.masks);
      tf.dispose(Object.values(grads));
      loss += objective * b;
      kl += div * b;
      ce += cls * b;
      correct += right;
      images += b;
      index++;
      options.onStep?.(b, means());
    } finally {
      tf.dispose([batch.x, batch.y]);
    }
  }
  return means();

  function means(): ScrubPassStats {
    const n = Math.max(images, 1);
    return { loss: loss / n, kl: kl / n, ce: ce / n, accuracy: (100 * correct) / n, images };
  }
}
