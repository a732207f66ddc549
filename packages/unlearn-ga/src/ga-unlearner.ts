import * as tf from '@tensorflow/tfjs-core';
import {
  type LossFunction,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  crossEntropy,
  requireUnlearnData,
  sgdUnlearnOptionFields,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

/**
 * Zod schema of {@link GaOptions}: validates and fills in the defaults of the reference code
 * (5 epochs, lr 1e-4, SGD momentum 0.9, weight decay 5e-4, batch 256, augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it.
 */
export const gaOptionsSchema = z.strictObject({
  // epochs: passes over D_f (default 5); lr: constant SGD learning rate (default 1e-4);
  // augment: random crop + flip on the forget images.
  ...sgdUnlearnOptionFields({ epochs: 5, lr: 1e-4 }),
});

/** Validated options of the `ga` unlearner (see {@link gaOptionsSchema} for ranges and defaults). */
export type GaOptions = z.output<typeof gaOptionsSchema>;

/**
 * The gradient-ascent loss: minus the mean cross-entropy of a batch.
 *
 * @param args - the batch's logits and labels (as core's `train` passes them)
 * @returns a scalar, −CE; created inside `train`'s tape and tidy, which dispose it
 */
export const negativeCrossEntropy: LossFunction = ({ logits, labels }) => tf.neg(crossEntropy(logits, labels));

/**
 * Gradient ascent (GA): forget by pushing the loss on the forget set up.
 *
 * @remarks
 * Minimises −CE on D_f (that is, ascends the cross-entropy of the samples to forget) with SGD
 * (momentum, weight decay, constant lr) for `epochs` passes over D_f, through core's `train`:
 * masked weights stay exactly zero, progress is reported, the abort signal is honoured. −CE
 * has no lower bound, so a large lr or many epochs diverge; then `train` throws
 * `UNLEARN_NON_FINITE_LOSS` and `runUnlearner` restores the model. The retain set is not used
 * ("Model Sparsity Can Simplify Machine Unlearning", Jia, Liu et al., NeurIPS 2023; reference
 * code `GA`, whose loss is `-criterion(output, target)`).
 *
 * The per-epoch `loss` in the report is the mean of −CE over D_f (it goes down as CE goes up).
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerGa] });
 * const report = await runUnlearner(container, 'ga', { model, data, options: { epochs: 5, lr: 1e-4 } });
 * ```
 */
export class GaUnlearner implements Unlearner<GaOptions> {
  /** The plugin id. */
  readonly name = 'ga';
  /** {@link gaOptionsSchema}. */
  readonly optionsSchema = gaOptionsSchema;

  /**
   * Run gradient ascent on `data.forget`, changing the model in place.
   * @param ctx - model (changed in place, masks respected), data, validated options, services
   * @returns per-epoch mean −CE on D_f, and in `extra`: `forgetSize`, `imagesPerSecond`, and
   *   `accuracy` (validation, percent) when `evalEvery` > 0 and a validation set is given
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_f is empty (before the model is touched);
   *   `UNLEARN_NON_FINITE_LOSS` when the loss diverges to NaN/Inf
   *   (`runUnlearner` restores the model), `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<GaOptions>): Promise<UnlearnReport> {
    const { data, options: o, services } = ctx;
    requireUnlearnData('ga', data, ['forget']);
    services.logger.info(`ga: gradient ascent on ${data.forget.indices.length} forget images for ${o.epochs} epochs (lr ${o.lr}).`);
    return trainUnlearner(ctx, {
      method: 'ga',
      data: data.forget,
      loss: negativeCrossEntropy,
      extra: { forgetSize: data.forget.indices.length },
    });
  }
}
