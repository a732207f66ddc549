import * as tf from '@tensorflow/tfjs-core';
import {
  type LossFunction,
  UnlearnError,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  crossEntropy,
  requireUnlearnData,
  sgdUnlearnOptionFields,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

// Split so that the L1 fields sit between `lr` and `batchSize`, in the order options are reported.
const { epochs, lr, ...sgdFields } = sgdUnlearnOptionFields({ epochs: 10, lr: 0.01 });

/**
 * Zod schema of {@link L1SparseOptions}: validates and fills in the defaults (10 epochs,
 * lr 0.01, α 5e-4, no L1-free epochs, SGD momentum 0.9, weight decay 5e-4, batch 256,
 * augmentation on).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 * `lr` is capped at 10, as core's `train` caps it. `noL1Epochs` must be smaller than
 * `epochs` (when `epochs` > 0), otherwise the decay length `epochs − noL1Epochs` is not positive.
 */
export const l1SparseOptionsSchema = z
  .strictObject({
    // epochs: passes over D_r (default 10); lr: constant SGD learning rate (default 0.01).
    epochs,
    lr,
    /** Initial weight α of the L1 penalty (the paper sweeps it; 5e-4 is a common choice). @defaultValue 5e-4 */
    alpha: z.number().min(0, 'alpha must be >= 0').default(5e-4),
    /** Number of final epochs trained without the penalty (α_t = 0 for t >= epochs − noL1Epochs). @defaultValue 0 */
    noL1Epochs: z.number().int('noL1Epochs must be an integer >= 0').min(0, 'noL1Epochs must be an integer >= 0').default(0),
    ...sgdFields,
  })
  .refine((o) => o.epochs === 0 || o.noL1Epochs < o.epochs, {
    path: ['noL1Epochs'],
    error: 'noL1Epochs must be an integer in [0, epochs - 1]',
  });

/** Validated options of the `l1-sparse` unlearner (see {@link l1SparseOptionsSchema} for ranges and defaults). */
export type L1SparseOptions = z.output<typeof l1SparseOptionsSchema>;

/**
 * The weight of the L1 penalty at an epoch: α_t = α·(1 − t/(E − noL1Epochs)) for
 * t < E − noL1Epochs, and 0 from then on.
 *
 * @param alpha - initial weight α >= 0
 * @param epoch - epoch index t, from 0
 * @param epochs - number of epochs E
 * @param noL1Epochs - final epochs without the penalty, `0 <= noL1Epochs < epochs`
 * @returns α_t (α at t = 0, decaying linearly; exactly 0 at t = E − noL1Epochs and after)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `noL1Epochs` is not in `0..epochs-1`
 * @remarks As the reference code (`l1_sparse`: `alpha * (1 - epoch / (unlearn_epochs - no_l1_epochs))`
 * while `epoch < unlearn_epochs - no_l1_epochs`). With noL1Epochs = 0 the last epoch still
 * has α/E: the weight reaches 0 only at t = E.
 */
export function l1Alpha(alpha: number, epoch: number, epochs: number, noL1Epochs: number): number {
  const decay = epochs - noL1Epochs;
  if (!Number.isInteger(noL1Epochs) || noL1Epochs < 0 || decay <= 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `noL1Epochs must be an integer in [0, epochs - 1] (epochs ${epochs}), got ${noL1Epochs}.`,
      {
        details: { field: 'noL1Epochs', value: noL1Epochs, epochs },
      },
    );
  }
  if (epoch >= decay) return 0;
  return alpha * (1 - epoch / decay);
}

/**
 * The L1 weight of every epoch, `[α_0, …, α_{E−1}]` (see {@link l1Alpha}).
 * @param alpha - initial weight
 * @param epochs - number of epochs E (0 gives `[]`)
 * @param noL1Epochs - final epochs without the penalty
 * @returns a new array of length `epochs`
 */
export function l1AlphaSchedule(alpha: number, epochs: number, noL1Epochs: number): number[] {
  return Array.from({ length: epochs }, (_, t) => l1Alpha(alpha, t, epochs, noL1Epochs));
}

/**
 * The L1 norm of some tensors, Σ |θ| over every element, differentiable with gradient sign(θ).
 * @param tensors - the tensors (e.g. the model's trainable variables)
 * @returns a scalar the caller disposes
 * @remarks Computed as Σ θ·sign(θ), which equals Σ |θ| exactly: tfjs's `abs` has gradient −1
 * at θ = 0 (it uses `step(x, -1)`), which would push every zero weight (biases at
 * initialisation) upward, whereas sign(0) = 0 as in PyTorch's `abs`; `sign` has a zero gradient
 * in tfjs, so the gradient of this form is exactly sign(θ).
 */
export function l1Norm(tensors: Iterable<tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    for (const t of tensors) total = tf.add(total, tf.sum(tf.mul(t, tf.sign(t))));
    return total;
  });
}

/**
 * l1-sparse: fine-tuning on the retain set with an L1 penalty that pushes the model toward
 * sparsity while it forgets.
 *
 * @remarks
 * Minimises CE(D_r) + α_t·‖θ‖₁ with SGD (momentum, weight decay, constant lr) for `epochs`
 * passes over D_r, with α_t decaying linearly from α to 0 ({@link l1Alpha}). ‖θ‖₁ covers
 * **every trainable weight of the model**: all unfrozen parameters (convolution and dense
 * kernels, biases, BatchNorm scales and offsets) and adapter parameters, as the reference
 * code sums |p| over `model.parameters()`; BatchNorm running statistics are buffers, not
 * weights, and are not included. Its gradient adds α_t·sign(θ) to each weight's gradient
 * (0 at θ = 0, so pruned weights get no push). Training runs through core's `train`: masked
 * weights stay exactly zero, progress is reported, the abort signal is honoured ("Model
 * Sparsity Can Simplify Machine Unlearning", Jia, Liu et al., NeurIPS 2023, Sec. 4,
 * sparsity-aware unlearning; reference code `l1_sparse`).
 *
 * The per-epoch `loss` in the report includes the penalty.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerL1Sparse] });
 * const report = await runUnlearner(container, 'l1-sparse', { model, data, options: { alpha: 5e-4, epochs: 10 } });
 * report.extra.alphas; // α_t of each epoch
 * ```
 */
export class L1SparseUnlearner implements Unlearner<L1SparseOptions> {
  /** The plugin id. */
  readonly name = 'l1-sparse';
  /** {@link l1SparseOptionsSchema}. */
  readonly optionsSchema = l1SparseOptionsSchema;

  /**
   * Fine-tune with the decaying L1 penalty on `data.retain`, changing the model in place.
   * @param ctx - model (changed in place, masks respected), data, validated options, services
   * @returns per-epoch mean CE + α_t‖θ‖₁, and in `extra`: `alphas` (α_t per epoch),
   *   `l1NormBefore` and `l1NormAfter` (‖θ‖₁ over the trainable weights), `normCovers`,
   *   `retainSize`, `imagesPerSecond`, and `accuracy` (validation, percent) when `evalEvery` > 0
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_r is empty (before the model is touched);
   *   `UNLEARN_NON_FINITE_LOSS` when a batch loss is NaN/Inf (`runUnlearner`
   *   restores the model), `UNLEARN_ABORTED` when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<L1SparseOptions>): Promise<UnlearnReport> {
    const { model, data, options: o, services } = ctx;
    requireUnlearnData('l1-sparse', data, ['retain']);
    const t0 = performance.now();
    const alphas = l1AlphaSchedule(o.alpha, o.epochs, o.noL1Epochs);
    const weights = [...model.trainableVariables().values()];
    const normOf = (): number => {
      const n = l1Norm(weights);
      try {
        return n.dataSync()[0];
      } finally {
        n.dispose();
      }
    };
    const l1NormBefore = normOf();
    const loss: LossFunction = ({ logits, labels, epoch }) => {
      const ce = crossEntropy(logits, labels);
      const a = alphas[epoch] ?? 0;
      // No penalty term at α_t = 0: same gradient, and it saves a pass over every weight.
      return a === 0 ? ce : tf.add(ce, tf.mul(l1Norm(weights), a));
    };
    services.logger.info(
      `l1-sparse: fine-tuning on ${data.retain.indices.length} retain images for ${o.epochs} epochs (lr ${o.lr}, alpha ${o.alpha} decaying to 0 at epoch ${o.epochs - o.noL1Epochs}).`,
    );
    return trainUnlearner(ctx, {
      method: 'l1-sparse',
      data: data.retain,
      loss,
      extra: () => ({
        alphas,
        l1NormBefore,
        l1NormAfter: normOf(),
        normCovers: 'all trainable weights (unfrozen parameters and adapter parameters)',
        retainSize: data.retain.indices.length,
      }),
      startedAt: t0,
    });
  }
}
