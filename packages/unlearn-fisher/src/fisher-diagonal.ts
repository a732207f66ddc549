import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type ParamVector,
  type ProgressReporter,
  type Subset,
  UnlearnError,
  batches,
  disposeVector,
  gradientsOf,
  throwIfAborted,
} from '@unlearnjs/core';

/** How the per-batch terms of the diagonal estimate are combined. */
export type FisherReduction = 'mean' | 'sum';

/** Options of {@link fisherDiagonal}. */
export interface FisherDiagonalOptions {
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
 * @param options - batch size, reduction, variables, abort signal, progress
 * @returns the diagonal per variable and counts; the caller disposes `diagonal`
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for an empty subset or a bad batch size,
 *   `UNLEARN_ABORTED` on abort
 * @remarks
 * For each batch B and each class y, `loss_y = mean_{i∈B} CE(out_i, y)` (every sample labelled
 * y) and `g_y = ∂loss_y/∂θ`; the batch adds `Σ_y mean_{i∈B}(p_{i,y}) · g_y ⊙ g_y`, with
 * `p = softmax(out)` treated as a constant. The terms are summed over batches and, with the
 * default `mean` reduction, divided by the number of batches. This weights the squared
 * *batch-mean* gradient of each label by the model's mean probability of it: the expected
 * (over the model's own predictive distribution) squared gradient, i.e. a diagonal Fisher.
 *
 * tfjs records a tape per gradient call, so the ten per-class gradients cost ten forward and
 * backward passes per batch (PyTorch's `retain_graph` shares one forward); the result is the
 * same. Gradients of pruned weights are masked (zero), as PyTorch's pruning reparametrisation
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
