import * as tf from '@tensorflow/tfjs-core';
import { type Model, type ParamVector, UnlearnError, disposeVector } from '@unlearnjs/core';

/** `1/(H + ε)`: ε keeps zero-curvature coordinates finite before the cap. */
export const FISHER_EPSILON = 1e-8;
/** Cap of `1/(H + ε)` for every parameter but the classifier's. */
export const FISHER_VARIANCE_CAP = 1e3;
/** Cap of `1/(H + ε)` for the classifier kernel and bias. */
export const FISHER_CLASSIFIER_VARIANCE_CAP = 1e2;
/** Variance given (before the ×10) to the forgotten class's classifier weights in class-wise forgetting. */
export const FISHER_FORGOTTEN_CLASS_VARIANCE = 1e-4;
/** Factor applied to the variance of the classifier and of every 1-D parameter. */
export const FISHER_SMALL_PARAM_FACTOR = 10;

/**
 * The axis of a weight tensor, in unlearnjs layouts, that PyTorch's dim 1 (the input
 * dimension) corresponds to: the axis Fisher forgetting averages the variance over.
 *
 * @param shape - the parameter's shape
 * @returns `2` for a rank-4 conv kernel (HWIO `[kh, kw, in, out]`; PyTorch `[out, in, kh, kw]`
 *   dim 1), `0` for a rank-2 dense kernel (`[in, out]`; PyTorch `[out, in]` dim 1), `1` for
 *   other ranks ≥ 3 whose layout matches PyTorch (ViT's `[1, tokens, dim]` position embedding
 *   and `[1, 1, dim]` class token), and `undefined` for rank ≤ 1 (nothing is averaged)
 */
export function inputAxisOf(shape: readonly number[]): number | undefined {
  if (shape.length <= 1) return undefined;
  if (shape.length === 4) return 2;
  if (shape.length === 2) return 0;
  return 1;
}

/** Options of {@link fisherPosterior}. */
export interface FisherPosteriorOptions {
  /** Scale of the variance. */
  alpha: number;
  /** Class-wise forgetting: the forgotten class (≥ 0), or -1 for random forgetting. */
  classToForget: number;
}

/** The Gaussian Fisher forgetting samples from. */
export interface FisherPosterior {
  /** name → mean μ (the current weights, the forgotten class's classifier weights zeroed); **the caller disposes it**. */
  mean: ParamVector;
  /** name → variance, the parameter's shape; **the caller disposes it**. */
  variance: ParamVector;
}

/**
 * The mean and variance of Fisher forgetting's noise, from a diagonal estimate H (the
 * reference code's `get_mean_var`).
 *
 * @param model - supplies the current weights (μ), the classifier names and the shapes
 * @param diagonal - name → H from {@link fisherDiagonal} (unchanged)
 * @param options - `alpha`, and `classToForget` for the class-wise special case
 * @returns μ and the variance per parameter named in `diagonal`; the caller disposes both
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when a name is not a model parameter, or when
 *   `classToForget` is not below the classifier's number of outputs
 * @remarks For each parameter, in this order:
 * 1. `var = min(1/(H + 1e-8), cap)`, cap 1e2 for the classifier kernel and bias, 1e3 otherwise;
 *    then `var ← α · var`.
 * 2. Rank > 1: `var` is averaged over the input axis ({@link inputAxisOf}: axis 2 of an HWIO
 *    conv kernel, axis 0 of an `[in, out]` dense kernel = PyTorch's dim 1) and broadcast back:
 *    the weights of one output unit (and kernel position) share one variance, as PyTorch's
 *    `var.mean(dim=1, keepdim=True).expand_as(p)` on `[out, in, kh, kw]`.
 * 3. `μ = θ`. Class-wise forgetting (`classToForget = c ≥ 0`): the forgotten class's classifier
 *    weights (column c of the `[in, classes]` kernel, the last axis in general, and `bias[c]`)
 *    get `μ = 0` and `var = 1e-4` (not scaled by α).
 * 4. `var ×10` for the classifier kernel and bias and every other 1-D parameter (BatchNorm
 *    gamma/beta, biases), once.
 *
 * The reference identifies the classifier by `p.shape[0] == num_classes`; here it is the
 * model's declared `classifier` names.
 */
export function fisherPosterior(model: Model, diagonal: ParamVector, options: FisherPosteriorOptions): FisherPosterior {
  const { alpha, classToForget } = options;
  const { kernel: classifierKernel, bias: classifierBias } = model.classifier;
  const mean: ParamVector = new Map();
  const variance: ParamVector = new Map();
  try {
    for (const [name, h] of diagonal) {
      const theta = model.params.get(name) ?? model.extraParams.get(name);
      if (!theta) {
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          `The Fisher diagonal names "${name}", which is not a parameter of ${model.arch}.`,
          {
            details: { name },
          },
        );
      }
      const isClassifier = name === classifierKernel || name === classifierBias;
      const shape = theta.shape;
      const classes = shape[shape.length - 1];
      if (isClassifier && classToForget >= classes) {
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          `classToForget is ${classToForget} but the classifier "${name}" has ${classes} outputs; pass a class in 0..${classes - 1} or -1.`,
          { details: { field: 'data.classToForget', value: classToForget, classes } },
        );
      }
      const cap = isClassifier ? FISHER_CLASSIFIER_VARIANCE_CAP : FISHER_VARIANCE_CAP;
      const factor = isClassifier || shape.length === 1 ? FISHER_SMALL_PARAM_FACTOR : 1;
      const [mu, v] = tf.tidy(() => {
        let v: tf.Tensor = tf.mul(tf.minimum(tf.reciprocal(tf.add(h, FISHER_EPSILON)), cap), alpha);
        const axis = inputAxisOf(shape);
        if (axis !== undefined) v = tf.broadcastTo(tf.mean(v, axis, true), shape);
        let mu: tf.Tensor = tf.clone(theta);
        if (isClassifier && classToForget >= 0) {
          // 1 on the forgotten class along the last (class) axis, broadcast over the others.
          const onehot = tf.reshape(tf.oneHot(tf.tensor1d([classToForget], 'int32'), classes), [
            ...shape.slice(0, -1).map(() => 1),
            classes,
          ]);
          const keep = tf.sub(1, onehot);
          mu = tf.mul(mu, keep);
          v = tf.add(tf.mul(v, keep), tf.mul(onehot, FISHER_FORGOTTEN_CLASS_VARIANCE));
        }
        return [mu, tf.mul(v, factor)];
      });
      mean.set(name, mu);
      variance.set(name, v);
    }
    return { mean, variance };
  } catch (err) {
    disposeVector(mean);
    disposeVector(variance);
    throw err;
  }
}
