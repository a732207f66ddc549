import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type ParamVector,
  type ProgressReporter,
  type Subset,
  UnlearnError,
  batchedPerSampleGradients,
  batches,
  disposeVector,
  gradientsOf,
  meanGradient,
  perSampleChunkSize,
  perSampleForwardOf,
  vectorAxpyInPlace,
  vectorScaleInPlace,
} from '@unlearnjs/core';

/** Options of {@link influenceGradient} and {@link perSampleGradients}. */
export interface InfluenceGradientOptions {
  /** Images per forward/backward pass of the mean gradients (memory only). @defaultValue 128 */
  batchSize?: number;
  /** The variables to differentiate. @defaultValue `model.trainableVariables()` */
  variables?: ReadonlyMap<string, tf.Variable>;
  /** Checked between batches; an aborted signal throws `UNLEARN_ABORTED`. */
  signal?: AbortSignal;
  /** Progress (one tick per image). */
  progress?: ProgressReporter;
}

/**
 * The vector influence unlearning preconditions:
 * `v = n_f/(n_f + n_r) · (mean ∇CE over D_f − mean ∇CE over D_r)`, in eval mode.
 *
 * @param model - the model (not changed)
 * @param forget - D_f
 * @param retain - D_r
 * @param options - batch size, variables, abort signal, progress
 * @returns `v` (**the caller disposes it**) and the two set sizes
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when either set is empty, `UNLEARN_ABORTED` on abort
 * @remarks The reference code sums `batch-mean gradient × batch size` over each set and scales
 * the forget sum by `1/(n_f + n_r)` and the retain sum by `n_f/((n_f + n_r)·n_r)`: the same
 * vector. Gradients of pruned weights are masked. Peak memory: the forget mean, the retain
 * running sum and one batch gradient (three parameter-sized vectors).
 */
export function influenceGradient(
  model: Model,
  forget: Subset,
  retain: Subset,
  options: InfluenceGradientOptions = {},
): { v: ParamVector; nForget: number; nRetain: number } {
  for (const [set, name] of [
    [forget, 'forget'],
    [retain, 'retain'],
  ] as const) {
    if (set.indices.length === 0) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `Influence unlearning needs a non-empty ${name} set; pass at least one ${name} image.`,
        {
          details: { field: `data.${name}` },
        },
      );
    }
  }
  const common = { batchSize: options.batchSize, variables: options.variables, signal: options.signal, progress: options.progress };
  const f = meanGradient(model, forget, { ...common, label: 'influence: forget gradient' });
  let r: ParamVector | undefined;
  try {
    const rr = meanGradient(model, retain, { ...common, label: 'influence: retain gradient' });
    r = rr.gradient;
    const nf = f.count;
    const nr = rr.count;
    vectorAxpyInPlace(-1, r, f.gradient);
    vectorScaleInPlace(nf / (nf + nr), f.gradient);
    return { v: f.gradient, nForget: nf, nRetain: nr };
  } catch (err) {
    disposeVector(f.gradient);
    throw err;
  } finally {
    if (r) disposeVector(r);
  }
}

/** How {@link perSampleGradients} computes the gradients. */
export type PerSampleMethod = 'auto' | 'batched' | 'per-image';

/** Options of {@link perSampleGradients}. */
export interface PerSampleGradientsOptions extends Pick<InfluenceGradientOptions, 'variables'> {
  /**
   * `batched`: one forward and backward pass per chunk of images (core's
   * `batchedPerSampleGradients`); `per-image`: one backward pass per image (the reference
   * path); `auto`: `batched` where core supports the model (`perSampleForwardOf`), else
   * `per-image`. Both give the same gradients within float rounding. @defaultValue 'auto'
   */
  method?: PerSampleMethod;
  /**
   * Bytes the stacked gradients of one chunk may take (`batched` only).
   * @defaultValue core's `perSampleChunkSize` default (512 MiB)
   */
  memoryBudgetBytes?: number;
}

/**
 * Per-sample gradients of the cross-entropy, in subset order, in eval mode.
 *
 * @param model - the model (not changed)
 * @param subset - the images, in order
 * @param options - the variables to differentiate (@defaultValue `model.trainableVariables()`),
 *   the method and the chunk memory budget
 * @returns a generator of gradient vectors; **the consumer disposes each one** (e.g. with
 *   `disposeVector`). Gradients of pruned weights are masked.
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `method` is `batched` and core does not
 *   support the model
 * @remarks The batched path holds one chunk of stacked gradients (as many images as fit
 * `memoryBudgetBytes`, at most 64; read back to JS memory once) and uploads one image's
 * gradient at a time. The per-image path keeps only the current vector.
 */
export function* perSampleGradients(
  model: Model,
  subset: Subset,
  options: PerSampleGradientsOptions = {},
): Generator<ParamVector, void, undefined> {
  const method = options.method ?? 'auto';
  const batched = method === 'batched' || (method === 'auto' && perSampleForwardOf(model) !== undefined);
  if (!batched) {
    for (const b of batches(subset, { batchSize: 1 })) {
      let g: ParamVector;
      try {
        g = gradientsOf(model, b.x, b.y, { variables: options.variables });
      } finally {
        b.x.dispose();
        b.y.dispose();
      }
      yield g;
    }
    return;
  }
  const variables = options.variables ?? model.trainableVariables();
  const batchSize = perSampleChunkSize(variables, { memoryBudgetBytes: options.memoryBudgetBytes });
  for (const b of batches(subset, { batchSize })) {
    let stacked: ParamVector;
    try {
      stacked = batchedPerSampleGradients(model, b.x, b.y, { variables });
    } finally {
      b.x.dispose();
      b.y.dispose();
    }
    // Read each stacked tensor once and upload one image's part at a time: the wasm backend's
    // Slice (and Gather, Unpack) copy the whole input per call, quadratic in the chunk.
    const n = b.x.shape[0];
    const rows = new Map<string, { data: Float32Array; shape: number[] }>();
    try {
      for (const [name, t] of stacked) rows.set(name, { data: t.dataSync() as Float32Array, shape: t.shape.slice(1) });
    } finally {
      disposeVector(stacked);
    }
    for (let i = 0; i < n; i++) {
      const g: ParamVector = new Map();
      for (const [name, { data, shape }] of rows) {
        const size = data.length / n;
        g.set(name, tf.tensor(data.subarray(i * size, (i + 1) * size), shape));
      }
      yield g;
    }
  }
}
