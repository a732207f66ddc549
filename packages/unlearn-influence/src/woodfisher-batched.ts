import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type ParamVector,
  type Subset,
  UnlearnError,
  batchedPerSampleGradients,
  batches,
  disposeVector,
  perSampleChunkSize,
  perSampleForwardOf,
  throwIfAborted,
  vectorAxpyInPlace,
} from '@unlearnjs/core';
import { perSampleGradients } from './influence-gradient.js';
import { type WoodFisherOptions, type WoodFisherResult, woodFisherSolve } from './woodfisher.js';

/** Options of {@link woodFisherSolveBatched}. */
export interface WoodFisherBatchedOptions extends WoodFisherOptions {
  /** The variables the gradients are taken for (v's names). @defaultValue `model.trainableVariables()` */
  variables?: ReadonlyMap<string, tf.Variable>;
  /** Bytes one chunk of stacked per-sample gradients may take. @defaultValue core's `perSampleChunkSize` default */
  memoryBudgetBytes?: number;
}

/**
 * {@link woodFisherSolve} over the per-sample gradients of `subset`, computed in chunks with
 * core's batched per-sample gradients and never split into per-image vectors.
 *
 * @param model - the model (not changed; eval mode)
 * @param v - the vector to precondition; **taken over** and returned as `direction`, as in
 *   {@link woodFisherSolve}
 * @param subset - the images whose gradients form the estimate, in order
 * @param options - damping N, abort signal, per-step callback, variables, chunk memory budget
 * @returns k (the caller disposes it) and the number of gradients used
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `damping` is not > 0; `UNLEARN_ABORTED`
 *   on abort (every tensor it holds is disposed, `v` included)
 * @remarks The same recursion and result as
 * `woodFisherSolve(v, perSampleGradients(model, subset), options)` (within float rounding),
 * which it falls back to where core cannot batch the model. The recursion only needs `v·g` and
 * `g₁·g` for each gradient g (see {@link woodFisherSolve}): per chunk they are two
 * matrix–vector products of the stacked gradients `[b, size]` of each parameter with `v` and
 * g₁, one device→host read per chunk. Memory: v, g₁ and one chunk.
 */
export function woodFisherSolveBatched(model: Model, v: ParamVector, subset: Subset, options: WoodFisherBatchedOptions): WoodFisherResult {
  const variables = options.variables ?? model.trainableVariables();
  if (perSampleForwardOf(model) === undefined) {
    return woodFisherSolve(v, perSampleGradients(model, subset, { variables, method: 'per-image' }), options);
  }
  const N = options.damping;
  if (!(N > 0) || !Number.isFinite(N)) {
    disposeVector(v);
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `The WoodFisher damping N must be a finite number > 0, got ${N}.`, {
      details: { field: 'damping', value: N },
    });
  }
  const names = [...v.keys()];
  let g1: ParamVector | undefined;
  // Per parameter: [v; g₁] as a `[2, size]` matrix, built once g₁ is known.
  let pairs: tf.Tensor2D[] | undefined;
  let c = 1;
  let s = 0;
  let count = 0;
  try {
    const batchSize = perSampleChunkSize(variables, { memoryBudgetBytes: options.memoryBudgetBytes });
    for (const b of batches(subset, { batchSize })) {
      let stacked: ParamVector;
      try {
        throwIfAborted(options.signal);
        stacked = batchedPerSampleGradients(model, b.x, b.y, { variables });
      } finally {
        b.x.dispose();
        b.y.dispose();
      }
      try {
        const n = b.x.shape[0];
        if (g1 === undefined) {
          const first = tf.tensor1d([0], 'int32');
          g1 = new Map(
            names.map((name) => [
              name,
              tf.tidy(() => tf.reshape(tf.gather(stacked.get(name) as tf.Tensor, first), v.get(name)?.shape ?? [])),
            ]),
          );
          first.dispose();
          const g = g1;
          pairs = names.map((name) =>
            tf.tidy(
              () => tf.stack([tf.reshape(v.get(name) as tf.Tensor, [-1]), tf.reshape(g.get(name) as tf.Tensor, [-1])]) as tf.Tensor2D,
            ),
          );
        }
        const p = pairs as tf.Tensor2D[];
        const dots = tf.tidy(() =>
          tf.addN(names.map((name, j) => tf.matMul(tf.reshape(stacked.get(name) as tf.Tensor, [n, -1]) as tf.Tensor2D, p[j], false, true))),
        );
        const values = dots.dataSync();
        dots.dispose();
        for (let i = 0; i < n; i++) {
          if (count > 0) {
            throwIfAborted(options.signal);
            const vg = values[2 * i];
            const g1g = values[2 * i + 1];
            const a = vg - s * g1g; // k·g
            const bb = c * g1g; // o·g
            const denom = N + bb;
            s += (a / denom) * c;
            c *= N / denom;
          }
          count++;
          options.onStep?.(count);
        }
      } finally {
        disposeVector(stacked);
      }
    }
    if (g1 !== undefined && s !== 0) vectorAxpyInPlace(-s, g1, v);
    return { direction: v, count };
  } catch (err) {
    disposeVector(v);
    throw err;
  } finally {
    if (g1) disposeVector(g1);
    if (pairs) tf.dispose(pairs);
  }
}
