import {
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  requireUnlearnData,
  sgdUnlearnOptionFields,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

/**
 * Zod schema of {@link FtOptions}: validates and fills in the defaults of the reference code
 * (10 epochs, lr 0.01, SGD momentum 0.9, weight decay 5e-4, batch 256, augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it.
 */
export const ftOptionsSchema = z.strictObject({
  // epochs: passes over D_r (default 10); lr: constant SGD learning rate (default 0.01).
  ...sgdUnlearnOptionFields({ epochs: 10, lr: 0.01 }),
});

/** Validated options of the `ft` unlearner (see {@link ftOptionsSchema} for ranges and defaults). */
export type FtOptions = z.output<typeof ftOptionsSchema>;

/**
 * Fine-tuning (FT): forget by continuing to train on the retain set only.
 *
 * @remarks
 * Minimises the mean cross-entropy on D_r with SGD (momentum, weight decay, constant lr) for
 * `epochs` passes, through core's `train`, which keeps masked weights at exactly zero after
 * every update, reports progress, honours the abort signal and throws
 * `UNLEARN_NON_FINITE_LOSS` on a NaN/Inf batch loss. The forget set is not used: FT relies on
 * catastrophic forgetting of D_f while D_r is rehearsed ("Model Sparsity Can Simplify Machine
 * Unlearning", Jia, Liu et al., NeurIPS 2023; reference code `FT`).
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerFt] });
 * const report = await runUnlearner(container, 'ft', { model, data, options: { epochs: 10, lr: 0.01 } });
 * ```
 */
export class FtUnlearner implements Unlearner<FtOptions> {
  /** The plugin id. */
  readonly name = 'ft';
  /** {@link ftOptionsSchema}. */
  readonly optionsSchema = ftOptionsSchema;

  /**
   * Fine-tune the model in place on `data.retain`.
   * @param ctx - model (changed in place, masks respected), data, validated options, services
   * @returns per-epoch mean CE on D_r, and in `extra`: `retainSize`, `imagesPerSecond`, and
   *   `accuracy` (validation, percent) when `evalEvery` > 0 and a validation set is given
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_r is empty (before the model is touched);
   *   `UNLEARN_NON_FINITE_LOSS` when a batch loss is NaN/Inf (`runUnlearner`
   *   restores the model), `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<FtOptions>): Promise<UnlearnReport> {
    const { data, options: o, services } = ctx;
    requireUnlearnData('ft', data, ['retain']);
    services.logger.info(`ft: fine-tuning on ${data.retain.indices.length} retain images for ${o.epochs} epochs (lr ${o.lr}).`);
    return trainUnlearner(ctx, { method: 'ft', data: data.retain, extra: { retainSize: data.retain.indices.length } });
  }
}
