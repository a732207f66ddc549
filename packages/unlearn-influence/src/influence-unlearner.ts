import * as tf from '@tensorflow/tfjs-core';
import {
  type ParamVector,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  disposeVector,
  maskVectorInPlace,
  requireUnlearnData,
  takeFirst,
  vectorNorm,
  vectorSize,
} from '@unlearnjs/core';
import { z } from 'zod';
import { influenceGradient } from './influence-gradient.js';
import { woodFisherSolveBatched } from './woodfisher-batched.js';

/**
 * Zod schema of {@link InfluenceOptions}.
 *
 * @remarks Unknown keys are rejected. `alpha` defaults to 0.2, the reference code's `--alpha`
 * default (one argument shared by every method); the paper sweeps it.
 */
export const influenceOptionsSchema = z.strictObject({
  /** Step size α of θ ← θ + α·k (sweep it). @defaultValue 0.2 */
  alpha: z.number().min(0, 'alpha must be >= 0').max(1e9, 'alpha must be <= 1e9').default(0.2),
  /** Retain images whose per-sample gradients build the WoodFisher estimate; also its damping N. @defaultValue 1000 */
  numSamples: z
    .number()
    .int('numSamples must be an integer >= 1')
    .min(1, 'numSamples must be an integer >= 1')
    .max(10_000_000, 'numSamples must be <= 1e7')
    .default(1000),
  /** Images per pass of the mean gradients over D_f and D_r (memory only, not the result). @defaultValue 128 */
  batchSize: z
    .number()
    .int('batchSize must be an integer >= 1')
    .min(1, 'batchSize must be an integer >= 1')
    .max(65_536, 'batchSize must be <= 65536')
    .default(128),
});

/** Validated options of the `influence` unlearner (see {@link influenceOptionsSchema}). */
export type InfluenceOptions = z.output<typeof influenceOptionsSchema>;

/** Parameter-sized vectors the `influence` unlearner holds at its peak (besides the model). */
export const INFLUENCE_VECTORS_HELD = 3;

/**
 * Influence unlearning (IU; `wfisher` of the reference code): one Newton-like step
 * θ ← θ + α·k, with k a streaming WoodFisher estimate of H⁻¹v.
 *
 * @remarks
 * From "Model Sparsity Can Simplify Machine Unlearning" (Jia, Liu et al., NeurIPS 2023):
 * 1. `v = n_f/(n_f+n_r) · (mean ∇CE over D_f − mean ∇CE over D_r)` ({@link influenceGradient},
 *    eval mode, batches of `batchSize`);
 * 2. k from the per-sample gradients of the first `numSamples` retain images, in order, with
 *    damping N = the number of images used ({@link woodFisherSolveBatched}: stacked per-sample
 *    gradients chunk by chunk where core can batch the model, one image at a time otherwise;
 *    the reference uses N = 1000 and reads the first 1,002 images);
 * 3. k is masked, θ ← θ + α·k, then the masks are applied: pruned weights stay exactly zero.
 *
 * All trainable variables (`model.trainableVariables()`) move; gradients of pruned weights are
 * masked, as PyTorch's pruning reparametrisation gives.
 *
 * Memory: at most {@link INFLUENCE_VECTORS_HELD} parameter-sized float32 vectors at once (the
 * forget mean, the retain sum and a batch gradient; then v, g₁ and one chunk of stacked
 * per-sample gradients, at most core's `perSampleChunkSize` budget, 512 MiB by default), never
 * the N gradients. For ResNet-18 at width 64 (11,173,962 parameters) that
 * is 3 × 11,173,962 × 4 B = 134,087,544 B ≈ 134 MB (128 MiB), besides the model and the
 * activations of one forward/backward pass. The report's `extra.memoryBytes` gives the figure
 * for the model at hand.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerInfluence] });
 * const report = await runUnlearner(container, 'influence', { model, data, options: { alpha: 1, numSamples: 1000 } });
 * ```
 */
export class InfluenceUnlearner implements Unlearner<InfluenceOptions> {
  /** The plugin id. */
  readonly name = 'influence';
  /** {@link influenceOptionsSchema}. */
  readonly optionsSchema = influenceOptionsSchema;

  /**
   * Take the influence step on the model in place.
   * @param ctx - model (changed in place), data (`forget` and `retain`), options, services
   * @returns a report with no epochs; `extra`: `samples` (gradients in the estimate),
   *   `damping`, `nForget`, `nRetain`, `vNorm`, `kNorm` (‖k‖ after masking), `alpha`,
   *   `parameters`, `vectorsHeld` and `memoryBytes` (vectorsHeld × parameters × 4)
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_f or D_r is empty (before the model is
   *   touched), `UNLEARN_ABORTED` on abort
   */
  async unlearn(ctx: UnlearnContext<InfluenceOptions>): Promise<UnlearnReport> {
    const { model, data, options, services } = ctx;
    requireUnlearnData('influence', data, ['forget', 'retain']);
    const t0 = performance.now();
    const variables = model.trainableVariables();
    const parameters = vectorSize(variables);
    const { v, nForget, nRetain } = influenceGradient(model, data.forget, data.retain, {
      batchSize: options.batchSize,
      variables,
      signal: services.signal,
      progress: services.progress,
    });
    let k: ParamVector = v;
    let vNorm: number;
    try {
      vNorm = vectorNorm(v);
    } catch (err) {
      disposeVector(v);
      throw err;
    }
    const sampled = takeFirst(data.retain, options.numSamples);
    const damping = sampled.indices.length;
    const task = services.progress.start('influence: woodfisher', damping, 'img');
    let count: number;
    try {
      // Stacked per-sample gradients, chunk by chunk (never one vector per image), where core
      // can batch the model; the per-image path otherwise.
      ({ direction: k, count } = woodFisherSolveBatched(model, v, sampled, {
        damping,
        variables,
        signal: services.signal,
        onStep: () => task.tick(1),
      }));
    } finally {
      task.end();
    }
    try {
      maskVectorInPlace(model, k);
      const kNorm = vectorNorm(k);
      for (const [name, theta] of variables) {
        const step = k.get(name) as tf.Tensor;
        tf.tidy(() => theta.assign(tf.add(theta, tf.mul(step, options.alpha))));
      }
      model.applyMasks();
      services.logger.info(
        `influence: step alpha ${options.alpha} along k (|k| ${kNorm.toPrecision(4)}) from ${count} retain gradients, n_f ${nForget}, n_r ${nRetain}`,
      );
      return {
        method: this.name,
        seconds: (performance.now() - t0) / 1000,
        epochs: [],
        extra: {
          samples: count,
          damping,
          nForget,
          nRetain,
          alpha: options.alpha,
          vNorm,
          kNorm,
          parameters,
          vectorsHeld: INFLUENCE_VECTORS_HELD,
          memoryBytes: INFLUENCE_VECTORS_HELD * parameters * 4,
        },
      };
    } finally {
      disposeVector(k);
    }
  }
}
