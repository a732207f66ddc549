import { type PruneContext, type PruneReport, type Pruner, REFERENCE_RECIPE } from '@unlearnjs/core';
import { z } from 'zod';
import { runLotteryRounds } from './lottery-rounds.js';
import { roundTrainingFields } from './round-training-options.js';

/** The rewind epoch the reference command uses (`--rewind_epoch 8`). */
const REFERENCE_REWIND_EPOCH = 8;

/**
 * Zod schema of the `omp` options. Defaults: the reference command
 * `--prune_type rewind_lt --rewind_epoch 8 --rate 0.95 --pruning_times 2` with the reference
 * training recipe (182 epochs, SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 256, lr ×0.1
 * at 91 and 136).
 */
export const ompOptionsSchema = z
  .strictObject({
    /** Target sparsity: share of the alive prunable weights removed, in (0, 1). @defaultValue 0.95 */
    rate: z.number().gt(0).lt(1).default(0.95),
    /** Epochs of dense training before pruning (0: prune the model as it is). @defaultValue 182 */
    epochs: z.number().int().min(0).max(10_000).default(REFERENCE_RECIPE.epochs),
    /**
     * What the surviving weights are reset to after pruning: `'init'` (the weights before
     * training), an epoch e ≥ 1 of the dense training (the weights after its e-th epoch; 0 is
     * `'init'`), or `'none'` (keep the trained weights: prune then fine-tune).
     * @defaultValue 8, or `'none'` when `epochs` is 0
     */
    rewind: z.union([z.literal('init'), z.literal('none'), z.number().int().min(0)]).optional(),
    /**
     * Epochs of training the sparse model. With an epoch rewind the lr schedule starts at that
     * epoch. The reference code trains `epochs` here.
     * @defaultValue epochs − the rewind epoch (epochs for `'init'` and `'none'`)
     */
    retrainEpochs: z.number().int().min(0).max(10_000).optional(),
    ...roundTrainingFields,
  })
  .superRefine((o, ctx) => {
    if (typeof o.rewind === 'number' && o.rewind > o.epochs) {
      ctx.addIssue({
        code: 'custom',
        path: ['rewind'],
        message: `rewind epoch (${o.rewind}) must not exceed epochs (${o.epochs}); set rewind to an epoch ≤ ${o.epochs}, 'init' or 'none'`,
      });
    }
    if (o.rewind === undefined && o.epochs > 0 && o.epochs < REFERENCE_REWIND_EPOCH) {
      ctx.addIssue({
        code: 'custom',
        path: ['rewind'],
        message: `the default rewind epoch (${REFERENCE_REWIND_EPOCH}) exceeds epochs (${o.epochs}); set rewind to an epoch ≤ ${o.epochs}, 'init' or 'none'`,
      });
    }
  });

/** Options of the `omp` pruner as a user passes them (every field optional; see {@link ompOptionsSchema}). */
export type OmpOptions = z.input<typeof ompOptionsSchema>;
/** The validated `omp` options (defaults filled in). */
export type ResolvedOmpOptions = z.output<typeof ompOptionsSchema>;

/**
 * One-shot magnitude pruning (OMP): train dense, prune once to the target sparsity, rewind,
 * retrain.
 *
 * @remarks
 * Round 0 trains the model for `epochs` epochs (keeping the weights after epoch `rewind`);
 * then `rate` of the alive prunable weights are removed by global magnitude, the survivors
 * (and every other parameter and BatchNorm buffer) are reset to the rewind weights, and
 * round 1 trains the sparse model for `retrainEpochs` epochs with a fresh optimiser and the lr
 * schedule advanced by the rewind epoch. This is the reference's `--rate 0.95
 * --pruning_times 2` (round 0 = dense model, round 1 = 95 % sparse model). With `epochs: 0`
 * the given (trained) model is only pruned: the rewind defaults to `'none'` and the retraining
 * to 0 epochs, so no data is needed. Checkpoints and resume as for `imp`.
 */
export class OmpPruner implements Pruner<ResolvedOmpOptions> {
  readonly name = 'omp';
  readonly optionsSchema = ompOptionsSchema;

  /**
   * Prune `ctx.model` in place.
   * @param ctx - model, data splits (trains on `data.train`), options, checkpoint folder, services
   * @returns rounds 0 (dense) and 1 (sparse)
   * @throws UnlearnError `UNLEARN_DATA_MISSING` without data when a round trains;
   *   `UNLEARN_INVALID_OPTIONS` for `names` that are not prunable; `UNLEARN_CHECKPOINT_INCOMPATIBLE`;
   *   `UNLEARN_ABORTED`; what training throws
   */
  prune(ctx: PruneContext<ResolvedOmpOptions>): Promise<PruneReport> {
    const { rate, epochs, rewind, retrainEpochs, ...training } = ctx.options;
    const resolved = rewind ?? (epochs === 0 ? 'none' : REFERENCE_REWIND_EPOCH);
    const rewindEpoch = typeof resolved === 'number' ? resolved : 0;
    return runLotteryRounds(ctx, {
      pruner: this.name,
      rounds: 2,
      rate,
      firstEpochs: epochs,
      laterEpochs: retrainEpochs ?? epochs - rewindEpoch,
      laterScheduleOffset: rewindEpoch,
      rewind: resolved === 0 ? 'init' : resolved,
      training,
    });
  }
}
