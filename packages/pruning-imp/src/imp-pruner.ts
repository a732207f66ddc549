import { type PruneContext, type PruneReport, type Pruner, REFERENCE_RECIPE } from '@unlearnjs/core';
import { z } from 'zod';
import { runLotteryRounds } from './lottery-rounds.js';
import { roundTrainingFields } from './round-training-options.js';

/**
 * Zod schema of the `imp` options. Defaults: the reference command
 * `--prune_type rewind_lt --rewind_epoch 8 --rate 0.2 --pruning_times 2` with the reference
 * training recipe (182 epochs, SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 256, lr ×0.1
 * at epochs 91 and 136).
 */
export const impOptionsSchema = z
  .strictObject({
    /** Share of the *remaining* weights removed after each round, in (0, 1). @defaultValue 0.2 */
    rate: z.number().gt(0).lt(1).default(0.2),
    /** Rounds in all (`pruning_times`): round 0 is dense, round k has density (1 − rate)^k. @defaultValue 2 */
    pruningTimes: z.number().int().min(1).max(1000).default(2),
    /**
     * Epoch of round 0 whose weights the survivors are reset to (0 = the initial weights:
     * the original lottery ticket). Must not exceed `epochs`. @defaultValue 8
     */
    rewindEpoch: z.number().int().min(0).default(8),
    /** Training epochs of round 0. @defaultValue 182 */
    epochs: z.number().int().min(0).max(10_000).default(REFERENCE_RECIPE.epochs),
    /**
     * Training epochs of every later round, which starts at epoch `rewindEpoch` of the lr
     * schedule. The reference code trains `epochs` here.
     * @defaultValue epochs − rewindEpoch
     */
    retrainEpochs: z.number().int().min(0).max(10_000).optional(),
    ...roundTrainingFields,
  })
  .superRefine((o, ctx) => {
    if (o.rewindEpoch > o.epochs) {
      ctx.addIssue({
        code: 'custom',
        path: ['rewindEpoch'],
        message: `rewindEpoch (${o.rewindEpoch}) must not exceed epochs (${o.epochs}): the rewind weights are saved during round 0; lower rewindEpoch or raise epochs`,
      });
    }
  });

/** Options of the `imp` pruner as a user passes them (every field optional; see {@link impOptionsSchema}). */
export type ImpOptions = z.input<typeof impOptionsSchema>;
/** The validated `imp` options (defaults filled in). */
export type ResolvedImpOptions = z.output<typeof impOptionsSchema>;

/**
 * Iterative magnitude pruning with weight rewinding (lottery tickets, `prune_type rewind_lt`).
 *
 * @remarks
 * Round 0 trains the model as given (dense, or with the masks it already has) for `epochs`
 * epochs and keeps the weights after epoch `rewindEpoch` (0: the weights before training).
 * Before each round k ≥ 1: remove `rate` of the remaining prunable weights by global
 * magnitude (see `globalMagnitudeMasks`), reset every parameter and BatchNorm buffer to the
 * kept weights, apply the masks, and train `retrainEpochs` epochs with a fresh optimiser and
 * the lr schedule advanced by `rewindEpoch` epochs. Round k has density (1 − rate)^k of the
 * weights alive at the start. With a `checkpointDir` each round writes `round-<k>.ckpt` and
 * `sparsity-round-<k>.json`, the rewind weights go to `rewind.ckpt`, and a killed run resumes:
 * finished rounds are loaded, the round in progress continues from `round-<k>.train.ckpt`.
 * Frankle et al., "Linear Mode Connectivity and the Lottery Ticket Hypothesis" (2020); as
 * used by Jia et al. 2023 (OPTML-Group/Unlearn-Sparse, main_imp.py).
 */
export class ImpPruner implements Pruner<ResolvedImpOptions> {
  readonly name = 'imp';
  readonly optionsSchema = impOptionsSchema;

  /**
   * Run the rounds on `ctx.model` in place.
   * @param ctx - model, data splits (trains on `data.train`, reports accuracy on `evalSet`), options, checkpoint folder, services
   * @returns one entry per round (round 0 = the trained dense model)
   * @throws UnlearnError `UNLEARN_DATA_MISSING` without data when epochs > 0;
   *   `UNLEARN_INVALID_OPTIONS` for `names` that are not prunable; `UNLEARN_CHECKPOINT_INCOMPATIBLE`
   *   when `checkpointDir` holds another run's checkpoints; `UNLEARN_ABORTED`; what training throws
   */
  prune(ctx: PruneContext<ResolvedImpOptions>): Promise<PruneReport> {
    const { rate, pruningTimes, rewindEpoch, epochs, retrainEpochs, ...training } = ctx.options;
    return runLotteryRounds(ctx, {
      pruner: this.name,
      rounds: pruningTimes,
      rate,
      firstEpochs: epochs,
      laterEpochs: retrainEpochs ?? epochs - rewindEpoch,
      laterScheduleOffset: rewindEpoch,
      rewind: rewindEpoch === 0 ? 'init' : rewindEpoch,
      training,
    });
  }
}
