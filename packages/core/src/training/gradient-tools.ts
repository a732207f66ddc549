import * as tf from '@tensorflow/tfjs-core';
import { batches } from '../data/batches.js';
import type { Subset } from '../data/subset.js';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { Model } from '../models/model.js';
import type { ProgressReporter } from '../progress/progress.js';
import { throwIfAborted } from './abort.js';
import { ensureGradients } from './gradients.js';
import { crossEntropy } from './train.js';

/**
 * A vector in parameter space, kept as one tensor per parameter (name → tensor of the
 * parameter's shape) so that nothing ever concatenates the whole model into one tensor.
 *
 * @remarks Gradients, Newton directions and Fisher diagonals are all `ParamVector`s. Whoever
 * receives one from a function here disposes it with {@link disposeVector}.
 */
export type ParamVector = Map<string, tf.Tensor>;

/** A scalar loss of a batch: logits `[b, classes]` and labels `[b]` (int32). */
export type GradientLoss = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;

/** Options of {@link gradientsOf} and {@link meanGradient}. */
export interface GradientOptions {
  /** The loss to differentiate. @defaultValue mean cross-entropy ({@link crossEntropy}) */
  loss?: GradientLoss;
  /** The variables to differentiate with respect to. @defaultValue `model.trainableVariables()` */
  variables?: ReadonlyMap<string, tf.Variable>;
  /** Forward in training mode (BatchNorm batch statistics, dropout). @defaultValue false (eval mode) */
  training?: boolean;
  /**
   * Multiply the gradient of each pruned weight by its mask, so pruned coordinates are exactly
   * zero. @defaultValue true
   */
  masked?: boolean;
}

/**
 * The gradient of a batch loss with respect to the model's variables, as a {@link ParamVector}.
 *
 * @param model - the model (not changed; in eval mode unless `options.training`)
 * @param x - input batch `[b, 32, 32, 3]`, raw [0,1] pixels
 * @param y - labels `[b]`
 * @param options - loss, variables, mode and masking
 * @returns name → gradient, one entry per variable (zeros for a variable the loss does not
 *   depend on); **the caller disposes it** ({@link disposeVector})
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when there is no variable to differentiate
 * @remarks Calls {@link ensureGradients} first. With `masked` (the default) the gradient of a
 * pruned weight is multiplied by its mask: this is what PyTorch's pruning reparametrisation
 * (`weight = weight_orig * mask`, gradients taken on `weight_orig`) gives, so dot products
 * between gradients ignore pruned coordinates exactly as in the reference code.
 * @example
 * ```ts
 * const g = gradientsOf(model, batch.x, batch.y);
 * try { console.log(vectorNorm(g)); } finally { disposeVector(g); }
 * ```
 */
export function gradientsOf(model: Model, x: tf.Tensor4D, y: tf.Tensor1D, options: GradientOptions = {}): ParamVector {
  ensureGradients();
  const vars = options.variables ?? model.trainableVariables();
  if (vars.size === 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Model ${model.arch} has no trainable variable to differentiate; unfreeze some parameters.`,
      {
        details: { arch: model.arch },
      },
    );
  }
  const loss = options.loss ?? crossEntropy;
  const training = options.training ?? false;
  const masked = options.masked ?? true;
  const varList = [...vars.values()];
  // Positional array out of the tidy (a Map is not a TensorContainer), names put back after.
  const names = [...vars.keys()];
  const list = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => loss(model.forward(x, { training }), y), varList);
    value.dispose();
    return names.map((name, i) => {
      const g = grads[varList[i].name] ?? tf.zerosLike(varList[i]);
      const mask = masked ? model.masks.get(name) : undefined;
      return mask ? tf.mul(g, mask) : g;
    });
  });
  return new Map(names.map((name, i) => [name, list[i]]));
}

/** Options of {@link meanGradient}. */
export interface MeanGradientOptions extends GradientOptions {
  /** Images per forward/backward pass (changes memory, not the result). @defaultValue 128 */
  batchSize?: number;
  /** Checked between batches; an aborted signal throws `UNLEARN_ABORTED`. */
  signal?: AbortSignal;
  /** Where to report progress (one tick per image). */
  progress?: ProgressReporter;
  /** Progress label. @defaultValue 'mean gradient' */
  label?: string;
}

/**
 * The mean over a subset of the per-sample gradients of a loss (mean cross-entropy by default),
 * computed in batches without augmentation.
 *
 * @param model - the model (not changed; eval mode unless `options.training`)
 * @param subset - the images
 * @param options - batch size, loss, variables, masking, abort signal, progress
 * @returns `gradient`: name → mean gradient (**the caller disposes it**), and `count`: the
 *   number of images
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for an empty subset or a bad batch size,
 *   `UNLEARN_ABORTED` on abort
 * @remarks Each batch contributes `b ×` its batch-mean gradient and the sum is divided by the
 * number of images, so the result is the exact mean whatever the batch size (for a loss that
 * is a per-sample mean, as cross-entropy; in eval mode). The running sum is updated tensor by
 * tensor: at any moment it holds the sum, the current batch gradient and one temporary tensor.
 */
export function meanGradient(model: Model, subset: Subset, options: MeanGradientOptions = {}): { gradient: ParamVector; count: number } {
  const n = subset.indices.length;
  if (n === 0) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', 'Cannot average gradients over an empty set of images; pass a non-empty subset.', {
      details: { field: 'subset' },
    });
  }
  const batchSize = options.batchSize ?? 128;
  const task = options.progress?.start(options.label ?? 'mean gradient', n, 'img');
  let sum: ParamVector | undefined;
  try {
    for (const b of batches(subset, { batchSize })) {
      try {
        throwIfAborted(options.signal);
        const g = gradientsOf(model, b.x, b.y, options);
        const size = b.x.shape[0];
        if (sum === undefined) {
          vectorScaleInPlace(size, g);
          sum = g;
        } else {
          vectorAxpyInPlace(size, g, sum);
          disposeVector(g);
        }
        task?.tick(size);
      } finally {
        tf.dispose([b.x, b.y]);
      }
    }
    const total = sum as ParamVector;
    vectorScaleInPlace(1 / n, total);
    sum = undefined;
    return { gradient: total, count: n };
  } finally {
    if (sum !== undefined) disposeVector(sum);
    task?.end();
  }
}

/**
 * Free every tensor of a vector (and empty the map).
 * @param v - the vector
 */
export function disposeVector(v: ParamVector): void {
  for (const t of v.values()) t.dispose();
  v.clear();
}

function sameKeys(a: ParamVector, b: ParamVector, what: string): void {
  if (a.size !== b.size || [...a.keys()].some((k) => !b.has(k))) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `${what}: the two vectors name different parameters; build both from the same model.`,
      {
        details: { left: [...a.keys()], right: [...b.keys()] },
      },
    );
  }
}

/**
 * Inner product of two parameter vectors, summed over every tensor.
 *
 * @param a - first vector
 * @param b - second vector (the same names and shapes)
 * @returns `Σ_name Σ_i a[name]_i · b[name]_i` as a number (one device→host read)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the vectors name different parameters
 */
export function vectorDot(a: ParamVector, b: ParamVector): number {
  return vectorDots([[a, b]])[0];
}

/**
 * Several inner products of parameter vectors with a single device→host read.
 *
 * @param pairs - `[a, b]` pairs
 * @returns `vectorDot(a, b)` for each pair, in order
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when a pair names different parameters
 */
export function vectorDots(pairs: ReadonlyArray<readonly [ParamVector, ParamVector]>): number[] {
  for (const [a, b] of pairs) sameKeys(a, b, 'vectorDot');
  if (pairs.length === 0) return [];
  const values = tf.tidy(() => {
    const parts = pairs.map(([a, b]) => {
      let s: tf.Tensor = tf.scalar(0);
      for (const [k, t] of a) s = tf.add(s, tf.sum(tf.mul(t, b.get(k) as tf.Tensor)));
      return s;
    });
    return tf.stack(parts);
  });
  try {
    return Array.from(values.dataSync());
  } finally {
    values.dispose();
  }
}

/**
 * Euclidean norm of a parameter vector.
 * @param v - the vector
 * @returns `sqrt(vectorDot(v, v))`
 */
export function vectorNorm(v: ParamVector): number {
  return Math.sqrt(vectorDot(v, v));
}

/**
 * `alpha · x + y` as a new vector.
 *
 * @param alpha - scale of `x`
 * @param x - vector
 * @param y - vector (the same names and shapes)
 * @returns a new vector; **the caller disposes it**. `x` and `y` are unchanged.
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the vectors name different parameters
 */
export function vectorAxpy(alpha: number, x: ParamVector, y: ParamVector): ParamVector {
  sameKeys(x, y, 'vectorAxpy');
  const out: ParamVector = new Map();
  for (const [k, t] of y)
    out.set(
      k,
      tf.tidy(() => tf.add(t, tf.mul(x.get(k) as tf.Tensor, alpha))),
    );
  return out;
}

/**
 * `y ← alpha · x + y`, replacing `y`'s tensors one at a time (each old tensor is disposed).
 *
 * @param alpha - scale of `x`
 * @param x - vector (unchanged)
 * @param y - vector, updated in place
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the vectors name different parameters
 * @remarks Peak memory is `y`, `x` and one temporary tensor, never a second copy of `y`.
 */
export function vectorAxpyInPlace(alpha: number, x: ParamVector, y: ParamVector): void {
  sameKeys(x, y, 'vectorAxpyInPlace');
  for (const [k, t] of y) {
    const next = tf.tidy(() => tf.add(t, tf.mul(x.get(k) as tf.Tensor, alpha)));
    t.dispose();
    y.set(k, next);
  }
}

/**
 * `x ← alpha · x`, replacing `x`'s tensors one at a time (each old tensor is disposed).
 * @param alpha - the scale
 * @param x - vector, updated in place
 */
export function vectorScaleInPlace(alpha: number, x: ParamVector): void {
  for (const [k, t] of x) {
    const next = tf.mul(t, alpha);
    t.dispose();
    x.set(k, next);
  }
}

/**
 * Zero the pruned coordinates of a vector in place: each tensor whose name has a mask on the
 * model is multiplied by it (the old tensor is disposed).
 * @param model - holds the masks
 * @param x - vector, updated in place
 */
export function maskVectorInPlace(model: Model, x: ParamVector): void {
  for (const [k, t] of x) {
    const mask = model.masks.get(k);
    if (!mask) continue;
    const next = tf.mul(t, mask);
    t.dispose();
    x.set(k, next);
  }
}

/**
 * Number of scalars in a vector.
 * @param x - vector
 * @returns `Σ size`
 */
export function vectorSize(x: ReadonlyMap<string, tf.Tensor>): number {
  let n = 0;
  for (const t of x.values()) n += t.size;
  return n;
}
