import { UnlearnError } from '@unlearnjs/core';

/**
 * A per-sample feature the membership-inference attack can use.
 *
 * - `confidence`: softmax probability of the true label (the paper's headline feature)
 * - `correctness`: 1 when the argmax equals the label, else 0
 * - `entropy`: Shannon entropy −Σ p log p of the softmax output
 * - `m-entropy`: modified entropy of Song & Mittal (2021)
 * - `prob`: the full probability vector (one column per class)
 */
export type MiaFeature = 'confidence' | 'correctness' | 'entropy' | 'm-entropy' | 'prob';

/** Every {@link MiaFeature}, in the order reports list them. */
export const MIA_FEATURES: readonly MiaFeature[] = Object.freeze(['confidence', 'correctness', 'entropy', 'm-entropy', 'prob'] as const);

/** A dense row-major matrix of features: `rows` samples of `cols` values. */
export interface FeatureMatrix {
  /** Row-major values, `rows * cols` long. */
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/** The smallest argument a log is taken of, as in the reference code (`log(1e-30)` for 0). */
const LOG_FLOOR = Math.log(1e-30);

/** `log(x)` for `x > 0`, else `log(1e-30)`: the reference code's `torch.where(x > 0, x.log(), log(1e-30))`. */
function safeLog(x: number): number {
  return x > 0 ? Math.log(x) : LOG_FLOOR;
}

/**
 * Shannon entropy of a probability vector, in nats.
 *
 * @param p - probabilities (need not be normalised; entries ≤ 0 contribute 0)
 * @returns −Σ_{p_i > 0} p_i log p_i
 * @remarks Matches the reference code's `entropy`: zero probabilities are skipped (0·log 0 = 0).
 */
export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * Math.log(p[i]);
  return h;
}

/**
 * Modified entropy of Song & Mittal (2021, "Systematic Evaluation of Privacy Risks of Machine
 * Learning Models"): low for confident, correct predictions, high for confident wrong ones.
 *
 * @param p - probabilities of one sample
 * @param label - the true label, `0 <= label < p.length`
 * @returns −(1−p_y)·log p_y − Σ_{i≠y} p_i·log(1−p_i)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `label` is outside the vector
 * @remarks Logs of non-positive arguments are replaced by log(1e-30), as the reference code
 * (OPTML-Group/Unlearn-Sparse, `m_entropy`) does. The reference indexes
 * `modified_probs[:, labels]` with the whole batch's labels, which replaces the column of every
 * label present in the batch for every row; this function computes the per-sample formula of
 * the paper instead.
 */
export function modifiedEntropy(p: ArrayLike<number>, label: number): number {
  if (!Number.isInteger(label) || label < 0 || label >= p.length) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `label ${label} is outside 0..${p.length - 1}; pass the sample's true class.`, {
      details: { label, classes: p.length },
    });
  }
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    if (i === label) h -= (1 - p[i]) * safeLog(p[i]);
    else h -= p[i] * safeLog(1 - p[i]);
  }
  return h;
}

/**
 * Compute one attack feature for every sample of a prediction set.
 *
 * @param probs - row-major `[n, classes]` softmax probabilities (e.g. `predictProbabilities(...).probs`)
 * @param labels - true labels, `[n]`
 * @param classes - number of classes
 * @param feature - which feature
 * @returns an `n × 1` matrix, or `n × classes` for `prob` (plain memory, nothing to dispose)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the array lengths disagree
 */
export function miaFeatureMatrix(
  probs: Float32Array | Float64Array,
  labels: ArrayLike<number>,
  classes: number,
  feature: MiaFeature,
): FeatureMatrix {
  const n = labels.length;
  if (probs.length !== n * classes) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `probs has ${probs.length} values but ${n} labels × ${classes} classes need ${n * classes}.`,
      { details: { probs: probs.length, labels: n, classes } },
    );
  }
  if (feature === 'prob') return { data: Float64Array.from(probs), rows: n, cols: classes };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    const y = labels[i];
    switch (feature) {
      case 'confidence':
        out[i] = row[y];
        break;
      case 'correctness': {
        let best = 0;
        for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
        out[i] = best === y ? 1 : 0;
        break;
      }
      case 'entropy':
        out[i] = entropy(row);
        break;
      case 'm-entropy':
        out[i] = modifiedEntropy(row, y);
        break;
      default:
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          `Unknown MIA feature "${String(feature)}"; use one of ${MIA_FEATURES.join(', ')}.`,
        );
    }
  }
  return { data: out, rows: n, cols: 1 };
}
