import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  UnlearnError,
  disposeVector,
  requireUnlearnData,
  classifierOutputs,
  concatSubsets,
  randomLabelPasses,
  requireLabelsBelow,
  trainUnlearner,
} from '@unlearnjs/core';
import { type SaliencyMask, disposeSaliencyMask, saliencyMask, saliencyScores } from './saliency-map.js';
import { type SalunOptions, salunOptionsSchema } from './salun-options.js';

/**
 * The passes of SalUn's epochs: those of the reference RL it builds on (core's
 * `randomLabelPasses`): D_f with labels drawn afresh each epoch, uniform over all classes,
 * then D_r with its true labels.
 */
export const salunEpochPasses = randomLabelPasses;

/**
 * The model's own weights SalUn may train: its trainable parameters, refusing a model whose
 * weights another plugin already transforms (an attached adapter).
 */
function salunVariables(model: Model): Map<string, tf.Variable> {
  if (model.extraParams.size > 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `SalUn updates the salient weights of the model itself, but an adapter is attached (${[...model.extraParams.keys()].slice(0, 3).join(', ')}); run salun without an adapter, or merge the adapter first.`,
      { details: { field: 'adapter', extraParams: [...model.extraParams.keys()] } },
    );
  }
  const vars = new Map<string, tf.Variable>();
  for (const [name, v] of model.trainableVariables()) {
    // effectiveWeight returns the variable itself unless a weight transform is set on it.
    const transformed = tf.tidy(() => model.effectiveWeight(name) !== v);
    if (transformed) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `SalUn keeps non-salient weights fixed through a weight transform, but "${name}" already has one (an adapter?); remove it first.`,
        { details: { field: 'weightTransform', name } },
      );
    }
    vars.set(name, v);
  }
  if (vars.size === 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Model ${model.arch} has no trainable parameter for SalUn to update; unfreeze some.`,
      {
        details: { arch: model.arch },
      },
    );
  }
  return vars;
}

/**
 * SalUn (saliency unlearning): random-label unlearning that changes only the weights most
 * salient to the forget set, leaving every other weight exactly as it was.
 *
 * @remarks
 * "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image
 * Classification and Generation", Fan, Liu et al., ICLR 2024; code OPTML-Group/Unlearn-Saliency.
 *
 * 1. **Saliency map** ({@link saliencyScores}, {@link saliencyMask}): |Σ_batches ∇θ(−CE on a
 *    forget batch)| per weight, in eval mode, as `generate_mask.py`; the ⌊N·ratio⌋ weights with
 *    the largest value, ranked globally over every trainable parameter (convolutions,
 *    BatchNorm, classifier, biases), are salient. Ties go to the earlier weight.
 * 2. **Random labels on the salient weights** ({@link salunEpochPasses}): each of `epochs`
 *    epochs is one pass of SGD over D_f with labels drawn uniformly over all classes, then one
 *    over D_r with the true labels, as `RL` in `unlearn/RL.py`, through core's `trainUnlearner`
 *    (SGD with momentum and weight decay, constant lr, masks, progress, abort).
 *
 * Non-salient weights keep their original values bit for bit (θ_u = m ⊙ θ + (1 − m) ⊙ θ_o, the
 * paper's equation): while training, the forward pass reads each weight through a weight
 * transform `where(m, θ, θ_o)`, so their gradient is exactly zero and momentum and weight
 * decay, which act on the stored value, never reach the forward pass; afterwards every stored
 * weight is set to `where(m, θ, θ_o)`. This is what SalUn's later `RL.py` does with
 * `_restore_masked_params` (after each step: non-salient weights back to θ_o, their momentum
 * zeroed); its first version only masked the gradient, so weight decay still shrank the
 * non-salient weights. Pruned weights stay exactly zero (core's SGD masks them) and rank below
 * every unpruned weight in the saliency map. BatchNorm running statistics are buffers, not
 * weights: they update in training mode, as in the reference.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerSalun] });
 * const report = await runUnlearner(container, 'salun', { model, data, options: { ratio: 0.5, lr: 0.013 } });
 * report.extra.salient; // number of weights unlearning could change
 * ```
 */
export class SalunUnlearner implements Unlearner<SalunOptions> {
  /** The plugin id. */
  readonly name = 'salun';
  /** {@link salunOptionsSchema}. */
  readonly optionsSchema = salunOptionsSchema;

  /**
   * Compute the saliency mask on D_f, then train the salient weights with random labels on D_f
   * and true labels on D_r, changing the model in place.
   *
   * @param ctx - model (changed in place: salient weights only; masks respected), data,
   *   validated options, services
   * @returns per-epoch mean CE over every batch of the epoch (D_f relabelled, and D_r), and in
   *   `extra`: `ratio`, `salient` (weights unlearning could change), `weights` (weights ranked),
   *   `relabelled` (|D_f|, per epoch), `retainSize`, `numClasses`, `saliencySeconds`,
   *   `imagesPerSecond`, and `accuracy` (validation, percent) when `evalEvery` > 0 and a
   *   validation set is given. `seconds` includes the saliency pass.
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_f or D_r is empty (before the model is
   *   touched); `UNLEARN_INVALID_OPTIONS` when D_f and D_r view different image sets, labels
   *   exceed the model's classes, or an adapter is attached; `UNLEARN_NON_FINITE_LOSS` when the
   *   saliency or a batch loss is NaN/Inf (`runUnlearner` restores the model); `UNLEARN_ABORTED`
   *   when the signal aborts
   */
  async unlearn(ctx: UnlearnContext<SalunOptions>): Promise<UnlearnReport> {
    const t0 = performance.now();
    const { model, data, options: o, services } = ctx;
    requireUnlearnData(this.name, data, ['forget', 'retain']);
    const numClasses = classifierOutputs(model);
    requireLabelsBelow(data.forget, 'Forget', numClasses);
    requireLabelsBelow(data.retain, 'Retain', numClasses);
    const union = concatSubsets(data.forget, data.retain, 'SalUn');
    const variables = salunVariables(model);
    const epochPasses = salunEpochPasses(data.forget, data.retain, numClasses, services.rng.fork('labels'));

    const scores = saliencyScores(model, data.forget, {
      batchSize: o.batchSize,
      augment: o.augment,
      rng: services.rng.fork('saliency'),
      variables,
      signal: services.signal,
      progress: services.progress,
    });
    let mask: SaliencyMask;
    try {
      mask = saliencyMask(scores, o.ratio, model.masks);
    } finally {
      disposeVector(scores);
    }
    const saliencySeconds = (performance.now() - t0) / 1000;
    services.logger.info(
      `salun: ${mask.salient} of ${mask.total} weights are salient (ratio ${o.ratio}); each of ${o.epochs} epochs trains them on ${data.forget.indices.length} forget images with random labels, then ${data.retain.indices.length} retain images (lr ${o.lr}).`,
    );

    // θ_o of every weight that has a non-salient coordinate, read by the transform and restored after.
    const original = new Map<string, tf.Tensor>();
    try {
      for (const [name, v] of variables) {
        const m = mask.masks.get(name) as tf.Tensor;
        const salientHere = tf.tidy(() => tf.sum(tf.cast(m, 'int32')).dataSync()[0]);
        if (salientHere === v.size) continue;
        const theta0 = tf.clone(v);
        original.set(name, theta0);
        model.setWeightTransform(name, (w) => tf.where(m, w, theta0));
      }
      return await trainUnlearner(ctx, {
        method: this.name,
        data: union,
        epochPasses,
        extra: {
          ratio: o.ratio,
          salient: mask.salient,
          weights: mask.total,
          relabelled: data.forget.indices.length,
          retainSize: data.retain.indices.length,
          numClasses,
          saliencySeconds,
        },
        startedAt: t0,
      });
    } finally {
      for (const [name, theta0] of original) {
        model.setWeightTransform(name, undefined);
        const v = variables.get(name) as tf.Variable;
        const m = mask.masks.get(name) as tf.Tensor;
        // Momentum and weight decay moved the stored non-salient values; the forward pass never saw them.
        tf.tidy(() => v.assign(tf.where(m, v, theta0)));
        theta0.dispose();
      }
      disposeSaliencyMask(mask);
    }
  }
}
