import {
  type Schedule,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  sgdUnlearnOptionFields,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

// Split so that the schedule fields sit between `lr` and `batchSize`, in the order options are reported.
const { epochs, lr, ...sgdFields } = sgdUnlearnOptionFields({ epochs: 160, lr: 0.1, minEpochs: 1 });

/**
 * Zod schema of {@link RetrainOptions}: validates and fills in the defaults (160 epochs,
 * lr 0.1, lr ×0.1 at 50% and 75% of the epochs, SGD momentum 0.9, weight decay 5e-4,
 * batch 128, augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it. The reference code trains with batch 256;
 * 128 (the paper's appendix) is kept here for the same memory footprint as the other unlearners.
 */
export const retrainOptionsSchema = z.strictObject({
  // epochs: passes over D_r, at least 1 (default 160); lr: peak SGD learning rate (default 0.1).
  epochs,
  lr,
  /** Learning-rate schedule: `multistep` (×`gamma` at each milestone), `cosine` (to 0 over the epochs) or `constant`. @defaultValue 'multistep' */
  schedule: z.enum(['multistep', 'cosine', 'constant'], "schedule must be 'multistep', 'cosine' or 'constant'").default('multistep'),
  /** Epochs at which `multistep` multiplies the lr by `gamma`. @defaultValue [⌊E/2⌋, ⌊3E/4⌋] */
  milestones: z.array(z.number().int('milestones must be integers >= 1').min(1, 'milestones must be integers >= 1')).optional(),
  /** Factor of `multistep` at each milestone, in (0, 1]. @defaultValue 0.1 */
  gamma: z.number().gt(0, 'gamma must be in (0, 1]').max(1, 'gamma must be in (0, 1]').default(0.1),
  ...sgdFields,
});

/** Validated options of the `retrain` unlearner (see {@link retrainOptionsSchema} for ranges and defaults). */
export type RetrainOptions = z.output<typeof retrainOptionsSchema>;

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName {
    retrain: RetrainOptions;
  }
}

/**
 * The learning-rate schedule retraining uses.
 * @param options - `schedule`, `epochs`, `milestones`, `gamma`
 * @returns core's {@link Schedule}: for `multistep`, the given milestones or
 *   `[⌊E/2⌋, ⌊3E/4⌋]` (the reference recipe's 91/136 of 182 epochs, scaled), with `gamma`
 */
export function retrainSchedule(options: Pick<RetrainOptions, 'schedule' | 'epochs' | 'milestones' | 'gamma'>): Schedule {
  switch (options.schedule) {
    case 'constant':
      return { type: 'constant' };
    case 'cosine':
      return { type: 'cosine', minLr: 0 };
    case 'multistep':
      return {
        type: 'multistep',
        milestones: options.milestones ?? [Math.floor(options.epochs / 2), Math.floor((3 * options.epochs) / 4)],
        gamma: options.gamma,
      };
  }
}

/**
 * Retrain: the gold standard of unlearning, a model trained from scratch without the forget set.
 *
 * @remarks
 * Re-initialises every parameter and buffer of the model (`model.reinitialize` with a
 * generator forked from the run's rng, so the result does not depend on the weights it was
 * given; masks are kept and applied, as in the paper's sparse retraining), then trains with
 * cross-entropy on D_r only with SGD (momentum, weight decay, multistep or cosine schedule)
 * through core's `train`: masked weights stay exactly zero, progress is reported, the abort
 * signal is honoured ("Model Sparsity Can Simplify Machine Unlearning", Jia, Liu et al.,
 * NeurIPS 2023; reference code `retrain`, 160 epochs at lr 0.1). Adapter parameters, if an
 * adapter is attached, are not re-initialised: attach adapters after retraining.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerRetrain] });
 * const report = await runUnlearner(container, 'retrain', { model, data, options: { epochs: 160, schedule: 'cosine' } });
 * ```
 */
export class RetrainUnlearner implements Unlearner<RetrainOptions> {
  /** The plugin id. */
  readonly name = 'retrain';
  /** {@link retrainOptionsSchema}. */
  readonly optionsSchema = retrainOptionsSchema;

  /**
   * Re-initialise the model and train it on `data.retain`, in place.
   * @param ctx - model (re-initialised and trained in place, masks kept), data, validated options, services
   * @returns per-epoch mean CE and lr on D_r, and in `extra`: `schedule` (the lr schedule used),
   *   `retainSize`, `imagesPerSecond`, and `accuracy` (validation, percent) when `evalEvery` > 0
   * @throws UnlearnError `UNLEARN_NON_FINITE_LOSS` when a batch loss is NaN/Inf (`runUnlearner`
   *   restores the model), `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<RetrainOptions>): Promise<UnlearnReport> {
    const { model, data, options: o, services } = ctx;
    const t0 = performance.now();
    const schedule = retrainSchedule(o);
    services.logger.info(
      `retrain: re-initialising and training on ${data.retain.indices.length} retain images for ${o.epochs} epochs (lr ${o.lr}, ${o.schedule}).`,
    );
    model.reinitialize(services.rng.fork('init'));
    return trainUnlearner(ctx, {
      method: 'retrain',
      data: data.retain,
      schedule,
      extra: { schedule, retainSize: data.retain.indices.length },
      startedAt: t0,
    });
  }
}
