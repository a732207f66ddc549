import {
  type Rng,
  type Subset,
  UnlearnError,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  requireUnlearnData,
  sgdUnlearnOptionFields,
  subsetLabels,
  classifierOutputs,
  concatSubsets,
  randomLabelPasses,
  requireLabelClassCount,
  requireLabelsBelow,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

// Split so that `labels` sits between `lr` and `batchSize`, in the order options are reported.
const { epochs, lr, ...sgdFields } = sgdUnlearnOptionFields({ epochs: 10, lr: 0.01 });

/**
 * Zod schema of {@link RlOptions}: validates and fills in the defaults of the reference code
 * (10 epochs, lr 0.01, labels drawn per batch, SGD momentum 0.9, weight decay 5e-4, batch 256,
 * augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it.
 */
export const rlOptionsSchema = z.strictObject({
  // epochs: passes over D_f then D_r (default 10); lr: constant SGD learning rate (default 0.01).
  epochs,
  lr,
  /**
   * How the forget set is relabelled.
   * - `'per-batch'`: the reference code for CIFAR-10 (`RL` in unlearn/RL.py of
   *   OPTML-Group/Unlearn-Saliency, where RL lives now): every forget batch of every epoch gets
   *   new labels drawn uniformly over *all* classes (`torch.randint(0, num_classes, ...)`, so
   *   a sample keeps its true label with probability 1/classes), and each epoch is one pass
   *   over D_f followed by one pass over D_r.
   * - `'fixed-wrong'`: one label per forget sample, drawn once uniformly over the *other*
   *   classes (see {@link randomWrongLabels}) and kept for the whole run; each epoch is one
   *   shuffled pass over D_f ∪ D_r. The method as the paper describes it ("random wrong
   *   labels"), and unlearnjs's behaviour before this option existed.
   * @defaultValue 'per-batch'
   */
  labels: z.enum(['per-batch', 'fixed-wrong'], "labels must be 'per-batch' or 'fixed-wrong'").default('per-batch'),
  ...sgdFields,
});

/** Validated options of the `rl` unlearner (see {@link rlOptionsSchema} for ranges and defaults). */
export type RlOptions = z.output<typeof rlOptionsSchema>;

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
 * true one 0: the `'fixed-wrong'` labels. The reference code draws from all classes, so a
 * sample can keep its label there (with probability 1/10): see {@link uniformRandomLabels}.
 */
export function randomWrongLabels(trueLabels: Uint8Array, numClasses: number, rng: Rng): Uint8Array {
  requireLabelClassCount(numClasses);
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
  const data = concatSubsets(forget, retain, 'Random-label unlearning');
  const nf = forget.indices.length;
  const labels = new Uint8Array(data.indices.length);
  labels.set(randomWrongLabels(subsetLabels(forget), numClasses, rng), 0);
  labels.set(subsetLabels(retain), nf);
  return { data, labels, forgetSize: nf };
}

/**
 * Random labels (RL): forget by teaching the model random answers on the forget set while
 * rehearsing the retain set.
 *
 * @remarks
 * With `labels: 'per-batch'` (the default, the reference code for CIFAR-10: `RL` in
 * unlearn/RL.py of OPTML-Group/Unlearn-Saliency) each epoch is one pass of SGD steps over D_f
 * with labels drawn afresh, uniformly over all classes ({@link randomLabelPasses}), then one
 * pass over D_r with the true labels. With `'fixed-wrong'` each D_f sample gets one random
 * wrong label for the whole run ({@link randomLabelSet}) and each epoch is one shuffled pass
 * over D_f ∪ D_r. Either way the labels are seeded from the run's rng, and training is SGD
 * (momentum, weight decay, constant lr) on the mean cross-entropy for `epochs` epochs through
 * core's `train`: masked weights stay exactly zero, progress is reported, the abort signal is
 * honoured ("Model Sparsity Can Simplify Machine Unlearning", Jia, Liu et al., NeurIPS 2023).
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerRl] });
 * const report = await runUnlearner(container, 'rl', { model, data, options: { epochs: 10, lr: 0.01 } });
 * report.extra.relabelled; // |D_f|
 * await runUnlearner(container, 'rl', { model, data, options: { labels: 'fixed-wrong' } }); // one wrong label each, for the whole run
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
   * @returns per-epoch mean CE over every batch of the epoch (D_f relabelled, and D_r), and in
   *   `extra`: `labels` (the mode), `relabelled` (|D_f|, per epoch for `'per-batch'`),
   *   `retainSize`, `numClasses`, `imagesPerSecond`, and `accuracy` (validation, percent) when
   *   `evalEvery` > 0 and a validation set is given
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_f or D_r is empty (before the model is
   *   touched); `UNLEARN_INVALID_OPTIONS` when D_f and D_r view different image sets
   *   or labels exceed the model's classes; `UNLEARN_NON_FINITE_LOSS` when a batch loss is
   *   NaN/Inf (`runUnlearner` restores the model); `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<RlOptions>): Promise<UnlearnReport> {
    const { model, data, options: o, services } = ctx;
    requireUnlearnData('rl', data, ['forget', 'retain']);
    const t0 = performance.now();
    const numClasses = classifierOutputs(model);
    const rng = services.rng.fork('random-labels');
    const extra = { labels: o.labels, relabelled: data.forget.indices.length, retainSize: data.retain.indices.length, numClasses };
    if (o.labels === 'fixed-wrong') {
      const set = randomLabelSet(data.forget, data.retain, numClasses, rng);
      services.logger.info(
        `rl: ${set.forgetSize} forget images given a fixed random wrong label, training on ${set.data.indices.length} images for ${o.epochs} epochs (lr ${o.lr}).`,
      );
      return trainUnlearner(ctx, { method: 'rl', data: set.data, labels: set.labels, extra, startedAt: t0 });
    }
    requireLabelsBelow(data.forget, 'Forget', numClasses);
    requireLabelsBelow(data.retain, 'Retain', numClasses);
    const union = concatSubsets(data.forget, data.retain, 'Random-label unlearning');
    services.logger.info(
      `rl: each of ${o.epochs} epochs trains ${data.forget.indices.length} forget images with labels drawn at random for the epoch, then ${data.retain.indices.length} retain images (lr ${o.lr}).`,
    );
    return trainUnlearner(ctx, {
      method: 'rl',
      data: union,
      epochPasses: randomLabelPasses(data.forget, data.retain, numClasses, rng),
      extra,
      startedAt: t0,
    });
  }
}
