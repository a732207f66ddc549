import * as tf from '@tensorflow/tfjs-core';
import {
  type ParamVector,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  disposeVector,
  requireUnlearnData,
  takeFirst,
  throwIfAborted,
} from '@unlearnjs/core';
import { z } from 'zod';
import { fisherDiagonal } from './fisher-diagonal.js';
import { fisherPosterior } from './fisher-posterior.js';

/**
 * Zod schema of {@link FisherOptions}: the reference code's defaults (α 0.2, Hessian batch 32,
 * the whole retain set, the Hessian averaged over batches).
 *
 * @remarks Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 */
export const fisherOptionsSchema = z.strictObject({
  /** Scale α of the noise variance (the reference's `--alpha`; sweep it). @defaultValue 0.2 */
  alpha: z.number().min(0, 'alpha must be >= 0').max(1e6, 'alpha must be <= 1e6').default(0.2),
  /** Images per batch of the Hessian estimate. @defaultValue 32 */
  batchSize: z
    .number()
    .int('batchSize must be an integer >= 1')
    .min(1, 'batchSize must be an integer >= 1')
    .max(65_536, 'batchSize must be <= 65536')
    .default(32),
  /** Use at most the first `maxSamples` retain images for the Hessian. @defaultValue every retain image */
  maxSamples: z.number().int('maxSamples must be an integer >= 1').min(1, 'maxSamples must be an integer >= 1').optional(),
  /**
   * `mean`: the per-batch terms are averaged over batches, as the reference code
   * (`grad2_acc /= len(train_loader)`); `sum`: summed (H grows with the number of batches, so
   * the noise shrinks). @defaultValue 'mean'
   */
  reduction: z.enum(['mean', 'sum']).default('mean'),
});

/** Validated options of the `fisher` unlearner (see {@link fisherOptionsSchema}). */
export type FisherOptions = z.output<typeof fisherOptionsSchema>;

/** Statistics of one parameter in the `fisher` report's `extra.layers`. */
export interface FisherLayerStats {
  name: string;
  size: number;
  /** Mean and max of the diagonal estimate H. */
  hMean: number;
  hMax: number;
  /** Mean and max of the noise variance. */
  varMean: number;
  varMax: number;
}

function stats(name: string, h: tf.Tensor, v: tf.Tensor): FisherLayerStats {
  const t = tf.tidy(() => tf.stack([tf.mean(h), tf.max(h), tf.mean(v), tf.max(v)]));
  const [hMean, hMax, varMean, varMax] = t.dataSync();
  t.dispose();
  return { name, size: h.size, hMean, hMax, varMean, varMax };
}

/**
 * Fisher forgetting (FF; `fisher_new` of the reference code): add Gaussian noise whose
 * variance is the inverse of a diagonal Fisher/Hessian estimate on the retain set.
 *
 * @remarks
 * From "Model Sparsity Can Simplify Machine Unlearning" (Jia, Liu et al., NeurIPS 2023), after
 * Golatkar et al.'s Fisher forgetting. One-shot (no epochs), the forget set is not read:
 * 1. H = diagonal estimate over D_r ({@link fisherDiagonal}, batch `batchSize`, eval mode);
 * 2. μ and var from H ({@link fisherPosterior}: α·min(1/(H+1e-8), cap), averaged over the input
 *    axis, the forgotten class's classifier column zeroed with var 1e-4 in class-wise
 *    forgetting, ×10 for the classifier and 1-D parameters);
 * 3. θ ← μ + √var ⊙ ε, ε ~ N(0, 1) drawn from the run's seeded `rng` (parameter order, one
 *    value per weight), then the masks are applied so pruned weights stay exactly zero.
 *
 * Noise is added to every trainable variable (`model.trainableVariables()`): frozen weights
 * are left alone. The report's `extra` holds `samples`, `batches`, `classes`, the H summary
 * (`hessian: { mean, max, zeros }`) and per-parameter `layers` ({@link FisherLayerStats}).
 * Memory: three parameter-sized vectors (H, μ, var) besides the model, plus one tensor of noise
 * at a time.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerFisher] });
 * const report = await runUnlearner(container, 'fisher', { model, data, options: { alpha: 1e-6 } });
 * ```
 */
export class FisherUnlearner implements Unlearner<FisherOptions> {
  /** The plugin id. */
  readonly name = 'fisher';
  /** {@link fisherOptionsSchema}. */
  readonly optionsSchema = fisherOptionsSchema;

  /**
   * Perturb the model in place.
   * @param ctx - model (changed in place), data (only `retain` and `classToForget` are read),
   *   options, services (`rng` draws the noise)
   * @returns a report with no epochs and the statistics above in `extra`
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_r is empty (before the model is touched);
   *   `UNLEARN_INVALID_OPTIONS` for a `classToForget` outside the classifier,
   *   `UNLEARN_ABORTED` on abort
   */
  async unlearn(ctx: UnlearnContext<FisherOptions>): Promise<UnlearnReport> {
    const { model, data, options, services } = ctx;
    requireUnlearnData('fisher', data, ['retain']);
    const t0 = performance.now();
    const retain = options.maxSamples === undefined ? data.retain : takeFirst(data.retain, options.maxSamples);
    const variables = model.trainableVariables();
    const est = fisherDiagonal(model, retain, {
      batchSize: options.batchSize,
      reduction: options.reduction,
      variables,
      signal: services.signal,
      progress: services.progress,
    });
    let mean: ParamVector | undefined;
    let variance: ParamVector | undefined;
    try {
      ({ mean, variance } = fisherPosterior(model, est.diagonal, { alpha: options.alpha, classToForget: data.classToForget }));
      throwIfAborted(services.signal);
      const layers: FisherLayerStats[] = [];
      let hSum = 0;
      let hMax = 0;
      let hZeros = 0;
      let size = 0;
      for (const [name, h] of est.diagonal) {
        const s = stats(name, h, variance.get(name) as tf.Tensor);
        layers.push(s);
        hSum += s.hMean * s.size;
        hMax = Math.max(hMax, s.hMax);
        const z = tf.tidy(() => tf.sum(tf.cast(tf.equal(h, 0), 'float32')));
        hZeros += z.dataSync()[0];
        z.dispose();
        size += s.size;
      }
      for (const [name, theta] of variables) {
        const noise = tf.tensor(services.rng.normalArray(theta.size), theta.shape, 'float32');
        const mu = mean.get(name) as tf.Tensor;
        const v = variance.get(name) as tf.Tensor;
        tf.tidy(() => theta.assign(tf.add(mu, tf.mul(tf.sqrt(v), noise))));
        noise.dispose();
      }
      model.applyMasks();
      services.logger.info(
        `fisher: noise added to ${variables.size} tensors (${size} weights) from H over ${est.samples} retain images, alpha ${options.alpha}`,
      );
      return {
        method: this.name,
        seconds: (performance.now() - t0) / 1000,
        epochs: [],
        extra: {
          samples: est.samples,
          batches: est.batches,
          classes: est.classes,
          alpha: options.alpha,
          classToForget: data.classToForget,
          hessian: { mean: hSum / Math.max(1, size), max: hMax, zeros: hZeros },
          layers,
        },
      };
    } finally {
      disposeVector(est.diagonal);
      if (mean) disposeVector(mean);
      if (variance) disposeVector(variance);
    }
  }
}
