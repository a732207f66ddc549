import { type UnlearnContext, type UnlearnReport, type Unlearner, train } from '@unlearnjs/core';
import { z } from 'zod';

/**
 * Zod schema of {@link FtOptions}: validates and fills in the defaults of the reference code
 * (10 epochs, lr 0.01, SGD momentum 0.9, weight decay 5e-4, batch 128, augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it.
 */
export const ftOptionsSchema = z.strictObject({
  /** Passes over D_r. @defaultValue 10 */
  epochs: z
    .number()
    .int('epochs must be an integer >= 0')
    .min(0, 'epochs must be an integer >= 0')
    .max(10_000, 'epochs must be <= 10000')
    .default(10),
  /** SGD learning rate (constant). @defaultValue 0.01 */
  lr: z.number().gt(0, 'lr must be > 0 (and <= 10)').max(10, 'lr must be > 0 and <= 10').default(0.01),
  /** Images per SGD step. @defaultValue 128 */
  batchSize: z
    .number()
    .int('batchSize must be an integer >= 1')
    .min(1, 'batchSize must be an integer >= 1')
    .max(65_536, 'batchSize must be <= 65536')
    .default(128),
  /** SGD momentum. @defaultValue 0.9 */
  momentum: z.number().min(0, 'momentum must be in [0, 1]').max(1, 'momentum must be in [0, 1]').default(0.9),
  /** L2 weight decay added to the gradient (PyTorch SGD semantics). @defaultValue 5e-4 */
  weightDecay: z.number().min(0, 'weightDecay must be in [0, 1]').max(1, 'weightDecay must be in [0, 1]').default(5e-4),
  /** Random crop (4-pixel padding) + horizontal flip on the training images, as the reference code. @defaultValue true */
  augment: z.boolean().default(true),
  /** Measure accuracy on `data.validation` every N epochs (0 = never; ignored without a validation set). @defaultValue 0 */
  evalEvery: z.number().int('evalEvery must be an integer >= 0').min(0, 'evalEvery must be an integer >= 0').default(0),
});

/** Validated options of the `ft` unlearner (see {@link ftOptionsSchema} for ranges and defaults). */
export type FtOptions = z.output<typeof ftOptionsSchema>;

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName {
    ft: FtOptions;
  }
}

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
   * @throws UnlearnError `UNLEARN_NON_FINITE_LOSS` when a batch loss is NaN/Inf (`runUnlearner`
   *   restores the model), `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<FtOptions>): Promise<UnlearnReport> {
    const { model, data, options: o, services } = ctx;
    const t0 = performance.now();
    services.logger.info(`ft: fine-tuning on ${data.retain.indices.length} retain images for ${o.epochs} epochs (lr ${o.lr}).`);
    const evalSet = o.evalEvery > 0 ? data.validation : undefined;
    const report = await train(model, {
      data: data.retain,
      epochs: o.epochs,
      batchSize: o.batchSize,
      lr: o.lr,
      momentum: o.momentum,
      weightDecay: o.weightDecay,
      schedule: { type: 'constant' },
      augment: o.augment,
      evalSet,
      evalEvery: o.evalEvery,
      label: 'ft',
      services,
    });
    return {
      method: 'ft',
      seconds: (performance.now() - t0) / 1000,
      epochs: report.epochs,
      extra: {
        retainSize: data.retain.indices.length,
        imagesPerSecond: report.imagesPerSecond,
        ...(report.accuracy === undefined ? {} : { accuracy: report.accuracy }),
      },
    };
  }
}
