import {
  type Model,
  type Rng,
  type Subset,
  UnlearnError,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  sgdUnlearnOptionFields,
  subsetLabels,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

/**
 * Zod schema of {@link RlOptions}: validates and fills in the defaults of the reference code
 * (10 epochs, lr 0.01, SGD momentum 0.9, weight decay 5e-4, batch 256, augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it.
 */
export const rlOptionsSchema = z.strictObject({
  // epochs: passes over D_f ∪ D_r (default 10); lr: constant SGD learning rate (default 0.01).
  ...sgdUnlearnOptionFields({ epochs: 10, lr: 0.01 }),
});

/** Validated options of the `rl` unlearner (see {@link rlOptionsSchema} for ranges and defaults). */
export type RlOptions = z.output<typeof rlOptionsSchema>;

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName {
    rl: RlOptions;
  }
}

/**
 * Draw a wrong label for each sample: uniform over the `numClasses − 1` classes other than
 * its true one.
 *
 * @param trueLabels - the true labels, each in `0..numClasses-1`
 * @param numClasses - number of classes, an integer >= 2
 * @param rng - the randomness (one draw per sample, in order: same state, same labels)
 * @returns a new array with `out[i] !== trueLabels[i]` for every `i`
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `numClasses` is not an integer in
 *   2..256, or a true label is outside `0..numClasses-1`
 * @remarks Draws `r = rng.int(numClasses − 1)` and skips over the true label
 * (`r >= y ? r + 1 : r`), so every wrong class has probability `1/(numClasses − 1)` and the
 * true one 0. The reference code draws from all classes, so a sample can keep its label there
 * (with probability 1/10); a "random wrong label" is what the method describes.
 */
export function randomWrongLabels(trueLabels: Uint8Array, numClasses: number, rng: Rng): Uint8Array {
  if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > 256) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Random-label unlearning needs between 2 and 256 classes, got ${numClasses}.`, {
      details: { field: 'numClasses', value: numClasses },
    });
  }
  const out = new Uint8Array(trueLabels.length);
  for (let i = 0; i < trueLabels.length; i++) {
    const y = trueLabels[i];
    if (y >= numClasses) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `Forget sample ${i} has label ${y}, but the model has ${numClasses} classes; use a model with as many outputs as the data has classes.`,
        { details: { field: 'labels', position: i, label: y, numClasses } },
      );
    }
    const r = rng.int(numClasses - 1);
    out[i] = r >= y ? r + 1 : r;
  }
  return out;
}

/** Number of model outputs: the last dimension of the classifier kernel. */
function numClassesOf(model: Model): number {
  const kernel = model.params.get(model.classifier.kernel);
  if (!kernel) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Model ${model.arch} names classifier "${model.classifier.kernel}", which is not one of its parameters.`,
      { details: { classifier: model.classifier.kernel } },
    );
  }
  return kernel.shape[kernel.shape.length - 1];
}

/** D_f ∪ D_r as one subset plus the label of each position. */
export interface RandomLabelSet {
  /** Forget positions first (`0..forgetSize-1`), then retain positions. */
  data: Subset;
  /** Random wrong labels at forget positions, true labels at retain positions. */
  labels: Uint8Array;
  /** Number of relabelled (forget) samples. */
  forgetSize: number;
}

/**
 * Build the training set of random-label unlearning: the forget and retain indices in one
 * subset, with a random wrong label for each forget sample and the true label for each retain one.
 *
 * @param forget - D_f
 * @param retain - D_r, a view of the same image set as `forget`
 * @param numClasses - number of classes of the model
 * @param rng - randomness of the wrong labels (drawn once: fixed for the whole run)
 * @returns the union subset and its labels (plain arrays, nothing to dispose)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the two subsets view different image
 *   sets, or from {@link randomWrongLabels}
 */
export function randomLabelSet(forget: Subset, retain: Subset, numClasses: number, rng: Rng): RandomLabelSet {
  if (forget.source !== retain.source) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      'Random-label unlearning needs the forget and retain sets to be views of the same image set (as makeSplits returns them); build both from one ImageSet.',
      { details: { field: 'data' } },
    );
  }
  const nf = forget.indices.length;
  const nr = retain.indices.length;
  const indices = new Int32Array(nf + nr);
  indices.set(forget.indices, 0);
  indices.set(retain.indices, nf);
  const labels = new Uint8Array(nf + nr);
  labels.set(randomWrongLabels(subsetLabels(forget), numClasses, rng), 0);
  labels.set(subsetLabels(retain), nf);
  return { data: { source: forget.source, indices }, labels, forgetSize: nf };
}

/**
 * Random labels (RL): forget by teaching the model wrong answers on the forget set while
 * rehearsing the retain set.
 *
 * @remarks
 * Before training, each D_f sample gets a random wrong label (seeded from the run's rng,
 * fixed for the whole run, see {@link randomWrongLabels}); then the mean cross-entropy over
 * D_f ∪ D_r (forget samples with their new labels, retain samples with their true ones) is
 * minimised with SGD (momentum, weight decay, constant lr) for `epochs` passes, through core's
 * `train`: masked weights stay exactly zero, progress is reported, the abort signal is
 * honoured ("Model Sparsity Can Simplify Machine Unlearning", Jia, Liu et al., NeurIPS 2023;
 * reference code `RL`).
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerRl] });
 * const report = await runUnlearner(container, 'rl', { model, data, options: { epochs: 10, lr: 0.01 } });
 * report.extra.relabelled; // |D_f|
 * ```
 */
export class RlUnlearner implements Unlearner<RlOptions> {
  /** The plugin id. */
  readonly name = 'rl';
  /** {@link rlOptionsSchema}. */
  readonly optionsSchema = rlOptionsSchema;

  /**
   * Relabel D_f and train on D_f ∪ D_r, changing the model in place.
   * @param ctx - model (changed in place, masks respected), data, validated options, services
   * @returns per-epoch mean CE on the relabelled union, and in `extra`: `relabelled` (|D_f|),
   *   `retainSize`, `numClasses`, `imagesPerSecond`, and `accuracy` (validation, percent) when
   *   `evalEvery` > 0 and a validation set is given
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when D_f and D_r view different image sets
   *   or labels exceed the model's classes; `UNLEARN_NON_FINITE_LOSS` when a batch loss is
   *   NaN/Inf (`runUnlearner` restores the model); `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<RlOptions>): Promise<UnlearnReport> {
    const { model, data, options: o, services } = ctx;
    const t0 = performance.now();
    const numClasses = numClassesOf(model);
    const set = randomLabelSet(data.forget, data.retain, numClasses, services.rng.fork('random-labels'));
    services.logger.info(
      `rl: ${set.forgetSize} forget images relabelled at random, training on ${set.data.indices.length} images for ${o.epochs} epochs (lr ${o.lr}).`,
    );
    return trainUnlearner(ctx, {
      method: 'rl',
      data: set.data,
      labels: set.labels,
      extra: { relabelled: set.forgetSize, retainSize: data.retain.indices.length, numClasses },
      startedAt: t0,
    });
  }
}
