import {
  type Schedule,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  requireUnlearnData,
  sgdUnlearnOptionFields,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

// Split so that the schedule fields sit between `lr` and `batchSize`, in the order options are reported.
const { epochs, lr, ...sgdFields } = sgdUnlearnOptionFields({ epochs: 160, lr: 0.1, minEpochs: 1 });

/**
 * Zod schema of {@link RetrainOptions}: validates and fills in the defaults of the reference
 * command (160 epochs, lr 0.1, lr ×0.1 at epochs 91 and 136, SGD momentum 0.9, weight decay
 * 5e-4, batch 256, augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it. Batch 256 is the reference code's
 * `--batch_size` default (the paper's appendix says 128). See {@link retrainSchedule} for the
 * milestones of runs shorter than 137 epochs.
 */
export const retrainOptionsSchema = z.strictObject({
  // epochs: passes over D_r, at least 1 (default 160); lr: peak SGD learning rate (default 0.1).
  epochs,
  lr,
  /** Learning-rate schedule: `multistep` (×`gamma` at each milestone), `cosine` (to 0 over the epochs) or `constant`. @defaultValue 'multistep' */
  schedule: z.enum(['multistep', 'cosine', 'constant'], "schedule must be 'multistep', 'cosine' or 'constant'").default('multistep'),
  /**
   * Epochs at which `multistep` multiplies the lr by `gamma` (the reference's `--decreasing_lr`).
   * @defaultValue [91, 136] when `epochs` > 136, else [round(E·91/182), round(E·136/182)]
   */
  milestones: z.array(z.number().int('milestones must be integers >= 1').min(1, 'milestones must be integers >= 1')).optional(),
  /** Factor of `multistep` at each milestone, in (0, 1]. @defaultValue 0.1 */
  gamma: z.number().gt(0, 'gamma must be in (0, 1]').max(1, 'gamma must be in (0, 1]').default(0.1),
  ...sgdFields,
});

/** Validated options of the `retrain` unlearner (see {@link retrainOptionsSchema} for ranges and defaults). */
export type RetrainOptions = z.output<typeof retrainOptionsSchema>;

/** The reference code's `--decreasing_lr` default: lr ×0.1 at these epochs, of its 182-epoch recipe. */
const REFERENCE_MILESTONES = [91, 136] as const;
const REFERENCE_EPOCHS = 182;

/**
 * The default `multistep` milestones of a retrain of `epochs` epochs.
 * @param epochs - the number of epochs E, >= 1
 * @returns `[91, 136]` when E > 136; otherwise `[round(E·91/182), round(E·136/182)]`
 * @remarks The reference code's MultiStepLR milestones are absolute epochs (`--decreasing_lr
 * 91,136`, whatever `--unlearn_epochs` is), so its 160-epoch retrain decays at 91 and 136,
 * and so does ours whenever the run reaches epoch 136. A shorter run would never decay there
 * (constant lr 0.1 to the end), so it keeps the recipe's proportions instead (E = 10: 5 and 7).
 */
export function defaultRetrainMilestones(epochs: number): number[] {
  if (epochs > REFERENCE_MILESTONES[1]) return [...REFERENCE_MILESTONES];
  return REFERENCE_MILESTONES.map((m) => Math.round((epochs * m) / REFERENCE_EPOCHS));
}

/**
 * The learning-rate schedule retraining uses.
 * @param options - `schedule`, `epochs`, `milestones`, `gamma`
 * @returns core's {@link Schedule}: for `multistep`, the given milestones or
 *   {@link defaultRetrainMilestones}, with `gamma`
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
        milestones: options.milestones ?? defaultRetrainMilestones(options.epochs),
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
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_r is empty (before the model is
   *   re-initialised); `UNLEARN_NON_FINITE_LOSS` when a batch loss is NaN/Inf (`runUnlearner`
   *   restores the model), `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<RetrainOptions>): Promise<UnlearnReport> {
    const { model, data, options: o, services } = ctx;
    requireUnlearnData('retrain', data, ['retain']);
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
