import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type ParamVector,
  type ProgressReporter,
  type Rng,
  type Subset,
  UnlearnError,
  batches,
  crossEntropy,
  disposeVector,
  gradientsOf,
  throwIfAborted,
  vectorAxpyInPlace,
} from '@unlearnjs/core';

/** Options of {@link saliencyScores}. */
export interface SaliencyScoresOptions {
  /** Images per forward/backward pass; each batch adds its batch-mean gradient. @defaultValue 256 */
  batchSize?: number;
  /** Random crop (4-pixel padding) + horizontal flip, as the reference's forget loader (needs `rng`). @defaultValue false */
  augment?: boolean;
  /** Order of the forget set and the augmentation draws; without it the subset's order is used. */
  rng?: Rng;
  /** The weights to score. @defaultValue `model.trainableVariables()` */
  variables?: ReadonlyMap<string, tf.Variable>;
  /** Checked between batches; an aborted signal throws `UNLEARN_ABORTED`. */
  signal?: AbortSignal;
  /** Where to report progress (one tick per image). */
  progress?: ProgressReporter;
  /** Progress label. @defaultValue 'salun saliency' */
  label?: string;
}

/** SalUn's forgetting loss for the saliency map: the negated mean cross-entropy of a forget batch. */
function forgettingLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.neg(crossEntropy(logits, labels));
}

/**
 * The weight saliency of SalUn: for every weight, the absolute value of the gradient of the
 * forgetting loss −CE on the forget set, summed over the forget batches.
 *
 * @param model - the model (not changed; evaluated in eval mode, as the reference's `model.eval()`)
 * @param forget - the forget set D_f (true labels)
 * @param options - batch size, augmentation, order, weights, abort signal, progress
 * @returns name → |Σ_batches ∇_θ mean_batch(−CE)|, one tensor per weight of `options.variables`;
 *   a pruned coordinate scores exactly 0 (its gradient is multiplied by its mask). **The caller
 *   disposes it** (`disposeVector` from `@unlearnjs/core`).
 * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_f has no image; `UNLEARN_INVALID_OPTIONS`
 *   for a bad batch size or no variable to score; `UNLEARN_ABORTED` on abort
 * @remarks As `save_gradient_ratio` in `Classification/generate_mask.py` of
 * OPTML-Group/Unlearn-Saliency: `loss = -criterion(output, target)` per forget batch,
 * `gradients[name] += param.grad` over every batch (a sum of batch means, so with equal batches
 * it is the mean gradient times the number of batches: the ranking is the same), then
 * `torch.abs_`. The gradient of a pruned weight is taken with its mask applied, as PyTorch's
 * pruning reparametrisation gives it. Deterministic: no randomness unless `augment` (drawn from
 * `rng`).
 * @example
 * ```ts
 * const scores = saliencyScores(model, data.forget, { batchSize: 256 });
 * try { const mask = saliencyMask(scores, 0.5, model.masks); ... } finally { disposeVector(scores); }
 * ```
 */
export function saliencyScores(model: Model, forget: Subset, options: SaliencyScoresOptions = {}): ParamVector {
  const n = forget.indices.length;
  if (n === 0) {
    throw new UnlearnError(
      'UNLEARN_EMPTY_DATA',
      'SalUn needs a non-empty forget set to compute weight saliency; choose at least one image to forget.',
      {
        details: { method: 'salun', set: 'forget' },
      },
    );
  }
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `batchSize must be an integer >= 1, got ${batchSize}.`, {
      details: { field: 'batchSize', value: batchSize },
    });
  }
  const augment = options.augment ?? false;
  const task = options.progress?.start(options.label ?? 'salun saliency', n, 'img');
  let sum: ParamVector | undefined;
  try {
    for (const b of batches(forget, { batchSize, shuffle: options.rng !== undefined, augment, rng: options.rng })) {
      try {
        throwIfAborted(options.signal);
        const g = gradientsOf(model, b.x, b.y, { loss: forgettingLoss, variables: options.variables, training: false, masked: true });
        if (sum === undefined) sum = g;
        else {
          vectorAxpyInPlace(1, g, sum);
          disposeVector(g);
        }
        task?.tick(b.x.shape[0]);
      } finally {
        tf.dispose([b.x, b.y]);
      }
    }
    const total = sum as ParamVector;
    sum = undefined;
    for (const [name, t] of total) {
      total.set(name, tf.abs(t));
      t.dispose();
    }
    return total;
  } finally {
    if (sum !== undefined) disposeVector(sum);
    task?.end();
  }
}

/** SalUn's hard saliency mask: which weights unlearning may change. */
export interface SaliencyMask {
  /** name → bool tensor of the weight's shape, true where the weight is salient. Owned by whoever got the mask ({@link disposeSaliencyMask}). */
  masks: Map<string, tf.Tensor>;
  /** Number of salient weights: ⌊total·ratio⌋. */
  salient: number;
  /** Number of weights ranked (every element of every scored tensor). */
  total: number;
  /** The saliency value of the last weight kept (the threshold); `Infinity` when none is kept. */
  threshold: number;
}

/**
 * Keep the top `ratio` share of weights by saliency, ranked over all tensors together.
 *
 * @param scores - name → saliency (from {@link saliencyScores}); not changed or disposed
 * @param ratio - share of weights to keep, in [0, 1]: exactly ⌊N·ratio⌋ of the N weights are
 *   salient (N = total number of elements of `scores`)
 * @param pruningMasks - the model's pruning masks (`model.masks`): a pruned weight ranks below
 *   every unpruned one, so it is salient only when the ratio exceeds the model's density
 * @returns the bool masks (**the caller disposes them**, {@link disposeSaliencyMask}), the
 *   count kept, the total and the threshold
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `ratio` is outside [0, 1];
 *   `UNLEARN_NON_FINITE_LOSS` when a saliency is NaN or infinite (the forgetting loss diverged)
 * @remarks One global ranking, as `generate_mask.py` of OPTML-Group/Unlearn-Saliency:
 * `torch.cat` of every parameter's |gradient| (convolutions, BatchNorm scales and shifts,
 * classifier weight and bias alike), `threshold_index = int(len(all_elements) * i)`, and the
 * elements whose descending rank is below it get 1. `torch.argsort` orders ties arbitrarily;
 * here ties are broken deterministically by position: tensors in the order of `scores`, each
 * in row-major order, earlier first. The count is ⌊N·ratio⌋ computed in double precision, as
 * Python's `int(len * i)`. Runs on the host: one download of every score (4 bytes per
 * weight) and one sort of a copy.
 */
export function saliencyMask(
  scores: ReadonlyMap<string, tf.Tensor>,
  ratio: number,
  pruningMasks?: ReadonlyMap<string, tf.Tensor>,
): SaliencyMask {
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `ratio must be between 0 and 1, got ${ratio}.`, {
      details: { field: 'ratio', value: ratio },
    });
  }
  let total = 0;
  for (const t of scores.values()) total += t.size;
  const all = new Float32Array(total);
  let offset = 0;
  for (const [name, t] of scores) {
    const values = t.dataSync() as Float32Array;
    all.set(values, offset);
    const prune = pruningMasks?.get(name);
    if (prune) {
      const keep = prune.dataSync();
      // Below every real score (|g| >= 0): pruned weights come last.
      for (let i = 0; i < keep.length; i++) if (keep[i] === 0) all[offset + i] = -1;
    }
    offset += t.size;
  }
  for (let i = 0; i < total; i++) {
    if (!Number.isFinite(all[i])) {
      throw new UnlearnError(
        'UNLEARN_NON_FINITE_LOSS',
        `The saliency of weight ${i} is ${all[i]}: the gradient of the forgetting loss on the forget set is not finite; check the model's weights and inputs.`,
        { details: { position: i, value: all[i] } },
      );
    }
  }
  const k = Math.floor(total * ratio);
  let threshold = Number.POSITIVE_INFINITY;
  let ties = 0;
  if (k > 0) {
    const sorted = all.slice().sort();
    threshold = sorted[total - k];
    // Weights strictly above the threshold are all kept; the rest of the k are ties, taken in order.
    let above = 0;
    for (let i = total - 1; i >= 0 && sorted[i] > threshold; i--) above++;
    ties = k - above;
  }
  const masks = new Map<string, tf.Tensor>();
  offset = 0;
  for (const [name, t] of scores) {
    const keep = new Uint8Array(t.size);
    for (let i = 0; i < t.size; i++) {
      const v = all[offset + i];
      if (v > threshold) keep[i] = 1;
      else if (v === threshold && ties > 0) {
        keep[i] = 1;
        ties--;
      }
    }
    masks.set(name, tf.tensor(keep, t.shape, 'bool'));
    offset += t.size;
  }
  return { masks, salient: k, total, threshold };
}

/**
 * Free the tensors of a {@link SaliencyMask} (and empty its map).
 * @param mask - the mask
 */
export function disposeSaliencyMask(mask: SaliencyMask): void {
  for (const m of mask.masks.values()) m.dispose();
  mask.masks.clear();
}
