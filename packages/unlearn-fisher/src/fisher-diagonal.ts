import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type ParamVector,
  type ProgressReporter,
  type Subset,
  UnlearnError,
  batchedDirectionalGradients,
  batches,
  disposeVector,
  gradientsOf,
  perSampleForwardOf,
  throwIfAborted,
} from '@unlearnjs/core';

/** How the per-batch terms of the diagonal estimate are combined. */
export type FisherReduction = 'mean' | 'sum';

/**
 * How {@link fisherDiagonal} computes the per-class gradients: `batched` from one forward and
 * one backward pass per batch (core's `batchedDirectionalGradients`), `per-class`:
 * one forward and backward pass per class and batch (the reference path), `auto`:
 * `batched` where core supports the model (`perSampleForwardOf`).
 */
export type FisherMethod = 'auto' | 'batched' | 'per-class';

/** Options of {@link fisherDiagonal}. */
export interface FisherDiagonalOptions {
  /** See {@link FisherMethod}; both give the same estimate within float rounding. @defaultValue 'auto' */
  method?: FisherMethod;
  /** Images per batch (the estimate depends on it: it squares batch-mean gradients). @defaultValue 32 */
  batchSize?: number;
  /**
   * `mean`: divide the sum over batches by the number of batches, as the reference code does
   * (`p.grad2_acc /= len(train_loader)`); `sum`: keep the sum. @defaultValue 'mean'
   */
  reduction?: FisherReduction;
  /** The variables to estimate it for. @defaultValue `model.trainableVariables()` */
  variables?: ReadonlyMap<string, tf.Variable>;
  /** Checked between batches; an aborted signal throws `UNLEARN_ABORTED`. */
  signal?: AbortSignal;
  /** Progress (one tick per image). */
  progress?: ProgressReporter;
}

/** What {@link fisherDiagonal} returns. */
export interface FisherDiagonal {
  /** name → diagonal estimate, the parameter's shape; **the caller disposes it**. */
  diagonal: ParamVector;
  /** Images used. */
  samples: number;
  /** Batches used. */
  batches: number;
  /** Number of classes (width of the logits). */
  classes: number;
}

/**
 * The diagonal Hessian (Fisher) estimate of Fisher forgetting (`hessian()` of the reference
 * code's `fisher_new`) over a set of images, in eval mode without augmentation.
 *
 * @param model - the model (not changed)
 * @param subset - the images, normally the retain set D_r
 * @param options - method, batch size, reduction, variables, abort signal, progress
 * @returns the diagonal per variable and counts; the caller disposes `diagonal`
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for an empty subset, a bad batch size, or
 *   `method: 'batched'` on a model core's batched gradients do not support;
 *   `UNLEARN_ABORTED` on abort
 * @remarks
 * For each batch B and each class y, `loss_y = mean_{i∈B} CE(out_i, y)` (every sample labelled
 * y) and `g_y = ∂loss_y/∂θ`; the batch adds `Σ_y mean_{i∈B}(p_{i,y}) · g_y ⊙ g_y`, with
 * `p = softmax(out)` treated as a constant. The terms are summed over batches and, with the
 * default `mean` reduction, divided by the number of batches. This weights the squared
 * *batch-mean* gradient of each label by the model's mean probability of it: the expected
 * (over the model's own predictive distribution) squared gradient, i.e. a diagonal Fisher.
 *
 * The `per-class` path takes the ten per-class gradients with ten forward and backward passes
 * per batch (tfjs records a tape per gradient call). The `batched` path shares one forward, as
 * PyTorch's `retain_graph` does, and runs the ten backward passes as one of 10·b rows: the
 * logit gradient of class y is `(softmax(out_i) − e_y)/b` for every i, and each weight
 * gradient is one product with the ten classes side by side. Gradients of pruned weights are masked (zero), as PyTorch's pruning reparametrisation
 * gives, so pruned coordinates get H = 0.
 */
export function fisherDiagonal(model: Model, subset: Subset, options: FisherDiagonalOptions = {}): FisherDiagonal {
  const n = subset.indices.length;
  if (n === 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      'Fisher forgetting needs at least one retain image to estimate the Hessian; pass a non-empty retain set.',
      {
        details: { field: 'data.retain' },
      },
    );
  }
  const batchSize = options.batchSize ?? 32;
  const variables = options.variables ?? model.trainableVariables();
  const reduction = options.reduction ?? 'mean';
  const method = options.method ?? 'auto';
  const batched = method === 'batched' || (method === 'auto' && perSampleForwardOf(model) !== undefined);
  const diagonal: ParamVector = new Map();
  for (const [name, v] of variables) diagonal.set(name, tf.zerosLike(v));
  const task = options.progress?.start('fisher: hessian', n, 'img');
  let count = 0;
  let classes = 0;
  try {
    for (const b of batches(subset, { batchSize })) {
      try {
        throwIfAborted(options.signal);
        const size = b.x.shape[0];
        if (batched) {
          let pbar: Float32Array | Int32Array | Uint8Array = new Float32Array(0);
          batchedDirectionalGradients(
            model,
            b.x,
            (logits) => {
              const [p, mean] = tf.tidy(() => {
                const probs = tf.softmax(logits);
                return [probs, tf.mean(probs, 0)];
              });
              pbar = mean.dataSync();
              mean.dispose();
              classes = pbar.length;
              // d[y, i] = ∂ mean_i CE(out_i, y) / ∂out_i = (p_i − e_y) / b
              const d = tf.tidy(() =>
                tf.div(tf.sub(tf.expandDims(p, 0), tf.reshape(tf.eye(classes), [classes, 1, classes])), size),
              ) as tf.Tensor3D;
              p.dispose();
              return d;
            },
            (name, g) => {
              const h = diagonal.get(name) as tf.Tensor;
              const weights = tf.tensor(Array.from(pbar), [classes, ...new Array(g.rank - 1).fill(1)]);
              const next = tf.tidy(() => tf.add(h, tf.sum(tf.mul(tf.square(g), weights), 0)));
              tf.dispose([g, weights, h]);
              diagonal.set(name, next);
            },
            { variables },
          );
        } else {
          const meanProb = tf.tidy(() => tf.mean(tf.softmax(model.forward(b.x, { training: false })), 0));
          const pbar = meanProb.dataSync();
          meanProb.dispose();
          classes = pbar.length;
          for (let y = 0; y < classes; y++) {
            const labels = tf.fill([size], y, 'int32') as tf.Tensor1D;
            let g: ParamVector | undefined;
            try {
              g = gradientsOf(model, b.x, labels, { variables });
              for (const [name, h] of diagonal) {
                const gy = g.get(name) as tf.Tensor;
                const next = tf.tidy(() => tf.add(h, tf.mul(tf.square(gy), pbar[y])));
                h.dispose();
                diagonal.set(name, next);
              }
            } finally {
              labels.dispose();
              if (g) disposeVector(g);
            }
          }
        }
        count++;
        task?.tick(size);
      } finally {
        tf.dispose([b.x, b.y]);
      }
    }
    if (reduction === 'mean') {
      for (const [name, h] of diagonal) {
        const next = tf.div(h, count);
        h.dispose();
        diagonal.set(name, next);
      }
    }
    return { diagonal, samples: n, batches: count, classes };
  } catch (err) {
    disposeVector(diagonal);
    throw err;
  } finally {
    task?.end();
  }
}
