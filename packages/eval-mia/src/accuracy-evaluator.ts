import {
  type EvalContext,
  type EvalResult,
  type Evaluator,
  type Model,
  type Predictions,
  type Rng,
  type RunServices,
  type Subset,
  UnlearnError,
  predictProbabilities,
} from '@unlearnjs/core';
import { z } from 'zod';
import { referenceTestSet } from './reference-test-set.js';

/** Schema of the `accuracy` evaluator's options. */
export const accuracyOptionsSchema = z.strictObject({
  /** Images per forward pass. */
  batchSize: z.number().int().min(1).default(256),
  /** Measure RA on at most this many retain images (a seeded uniform subsample); all when absent. */
  maxRetain: z.number().int().min(1).optional(),
});

/**
 * Options of the `accuracy` evaluator (validated and defaulted).
 *
 * - `batchSize` — images per forward pass. @defaultValue 256
 * - `maxRetain` — evaluate RA on at most this many retain images, chosen uniformly with the
 *   run's seeded generator. @defaultValue every retain image
 */
export type AccuracyOptions = z.output<typeof accuracyOptionsSchema>;

/** Percentage of `predicted[i] === labels[i]` over the given positions (all when omitted). */
function accuracyOf(p: Predictions, positions?: ArrayLike<number>): number {
  let correct = 0;
  const n = positions ? positions.length : p.n;
  for (let k = 0; k < n; k++) {
    const i = positions ? positions[k] : k;
    if (p.predicted[i] === p.labels[i]) correct++;
  }
  return (100 * correct) / n;
}

function requireNonEmpty(subset: Subset | undefined, name: string, evaluator: string): void {
  if (!subset || subset.indices.length === 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `The ${evaluator} evaluator got an empty ${name} set; pass data with at least one ${name} image.`,
      { details: { evaluator, set: name } },
    );
  }
}

/**
 * A seeded uniform choice of `k` of the subset's images, kept in subset order.
 * @internal
 */
function sampleSubset(subset: Subset, k: number, rng: Rng): Subset {
  const n = subset.indices.length;
  if (k >= n) return subset;
  const pos = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = pos[i];
    pos[i] = pos[j];
    pos[j] = t;
  }
  const chosen = pos.subarray(0, k).sort();
  const indices = new Int32Array(k);
  for (let i = 0; i < k; i++) indices[i] = subset.indices[chosen[i]];
  return { source: subset.source, indices };
}

/** Positions in `within` of each image of `part`, or undefined when some image is not in `within`. */
function positionsIn(part: Subset, within: Subset): Int32Array | undefined {
  if (part.source !== within.source) return undefined;
  const where = new Map<number, number>();
  for (let k = 0; k < within.indices.length; k++) if (!where.has(within.indices[k])) where.set(within.indices[k], k);
  const out = new Int32Array(part.indices.length);
  for (let k = 0; k < part.indices.length; k++) {
    const pos = where.get(part.indices[k]);
    if (pos === undefined) return undefined;
    out[k] = pos;
  }
  return out;
}

/** Softmax rows of one model by image set and image index, while a prediction scope is open. */
interface PredictionCache {
  /** Open {@link withPredictionCache} calls on the model (scopes nest). */
  depth: number;
  rows: Map<Subset['source'], Map<number, Float32Array>>;
}

const caches = new Map<Model, PredictionCache>();

/**
 * Run `work` with the model's eval-mode predictions kept per image: the evaluators of one row
 * (accuracy, svc-mia) then predict each image once, not once per evaluator.
 *
 * @param model - the model; it must not change while `work` runs (evaluators never change it)
 * @param work - what to run, e.g. the row's `runEvaluator` calls
 * @returns what `work` returns
 * @remarks The accuracy evaluator predicts the forget set, up to `maxRetain` retain images and
 * the test set; svc-mia the forget set again, the first retain images (shadow members) and the
 * test images of the retained classes (shadow non-members): on the `quick` preset 4,469
 * forward passes per row, 2,812 distinct images. In eval mode an image's prediction does not
 * depend on the other images of its batch (BatchNorm uses the running statistics), so a cached
 * row is the prediction. The cache is dropped when the outermost scope ends; outside a scope
 * nothing is kept. Nothing to dispose: the rows are plain memory.
 * @example
 * ```ts
 * const [acc, mia] = await withPredictionCache(model, async () => [
 *   await runEvaluator(container, 'accuracy', { model, data }),
 *   await runEvaluator(container, 'svc-mia', { model, data }),
 * ]);
 * ```
 */
export async function withPredictionCache<T>(model: Model, work: () => Promise<T>): Promise<T> {
  const cache = caches.get(model) ?? { depth: 0, rows: new Map() };
  caches.set(model, cache);
  cache.depth++;
  try {
    return await work();
  } finally {
    if (--cache.depth === 0) caches.delete(model);
  }
}

/** The Predictions of `subset` assembled from cached rows (every image of it is cached). */
function fromRows(subset: Subset, rows: Map<number, Float32Array>, classes: number): Predictions {
  const n = subset.indices.length;
  const probs = new Float32Array(n * classes);
  const labels = new Uint8Array(n);
  const predicted = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const i = subset.indices[k];
    const row = rows.get(i) as Float32Array;
    probs.set(row, k * classes);
    labels[k] = subset.source.labels[i];
    let best = 0;
    for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
    predicted[k] = best;
  }
  return { probs, labels, predicted, n, classes };
}

/**
 * @internal Softmax predictions of `model` on `subset`, with the run's progress and abort signal;
 * inside {@link withPredictionCache}, only images not predicted yet in the scope run the model.
 */
export function predictWith(model: Model, subset: Subset, batchSize: number, services: RunServices, label: string): Predictions {
  const predict = (s: Subset) => predictProbabilities(model, s, { batchSize, progress: services.progress, signal: services.signal, label });
  const cache = caches.get(model);
  if (!cache) return predict(subset);
  let rows = cache.rows.get(subset.source);
  if (!rows) cache.rows.set(subset.source, (rows = new Map()));
  const seen = new Set<number>();
  const missing: number[] = [];
  for (const i of subset.indices) {
    if (!rows.has(i) && !seen.has(i)) {
      seen.add(i);
      missing.push(i);
    }
  }
  let classes = rows.size > 0 ? (rows.values().next().value as Float32Array).length : 0;
  if (missing.length > 0) {
    const p = predict({ source: subset.source, indices: Int32Array.from(missing) });
    classes = p.classes;
    for (let k = 0; k < p.n; k++) rows.set(missing[k], p.probs.slice(k * classes, (k + 1) * classes));
  }
  return fromRows(subset, rows, classes);
}

/**
 * The `accuracy` evaluator: UA, RA and TA of the paper.
 *
 * @remarks
 * - **UA** (unlearning accuracy) = 100 − top-1 accuracy on D_f.
 * - **RA** = accuracy on D_r (on a seeded subsample of `maxRetain` images when set).
 * - **TA** = accuracy on the reference's test set ({@link referenceTestSet}): without the
 *   forgotten class when the whole class is forgotten (`testRetainClasses`, or the test set
 *   without `classToForget` when that is not given). **TA-all** is always the full test set.
 *
 * All in percent, in eval mode without augmentation. `details.perClassTestAccuracy` maps each
 * class name to its accuracy on the full test set (classes absent from it are left out);
 * `details.sizes` gives the number of images behind each metric.
 */
export class AccuracyEvaluator implements Evaluator<AccuracyOptions> {
  readonly name = 'accuracy';
  readonly optionsSchema = accuracyOptionsSchema;

  /**
   * Measure UA, RA, TA and TA-all.
   * @param ctx - model (not changed), data, options, services
   * @returns metrics `UA`, `RA`, `TA`, `TA-all` (percent) and per-class test accuracy in details
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the forget, retain or test set is empty;
   *   `UNLEARN_ABORTED` when the run's signal fires
   */
  async evaluate(ctx: EvalContext<AccuracyOptions>): Promise<EvalResult> {
    const { model, data, options, services } = ctx;
    requireNonEmpty(data.forget, 'forget', this.name);
    requireNonEmpty(data.retain, 'retain', this.name);
    requireNonEmpty(data.test, 'test', this.name);
    const retain =
      options.maxRetain !== undefined ? sampleSubset(data.retain, options.maxRetain, services.rng.fork('max-retain')) : data.retain;

    const forgetP = predictWith(model, data.forget, options.batchSize, services, 'accuracy: forget');
    const retainP = predictWith(model, retain, options.batchSize, services, 'accuracy: retain');
    const testP = predictWith(model, data.test, options.batchSize, services, 'accuracy: test');

    const taAll = accuracyOf(testP);
    const taSet = referenceTestSet(data);
    let ta = taAll;
    if (taSet.subset !== data.test) {
      requireNonEmpty(taSet.subset, data.testRetainClasses ? 'testRetainClasses' : 'test (without the forgotten class)', this.name);
      const positions = positionsIn(taSet.subset, data.test);
      ta = positions
        ? accuracyOf(testP, positions)
        : accuracyOf(predictWith(model, taSet.subset, options.batchSize, services, 'accuracy: test (retained classes)'));
    }
    const taSize = taSet.subset.indices.length;

    const classNames = data.test.source.classNames;
    const correct = new Array<number>(classNames.length).fill(0);
    const count = new Array<number>(classNames.length).fill(0);
    for (let i = 0; i < testP.n; i++) {
      count[testP.labels[i]]++;
      if (testP.predicted[i] === testP.labels[i]) correct[testP.labels[i]]++;
    }
    const perClassTestAccuracy: Record<string, number> = {};
    const perClassTestCount: Record<string, number> = {};
    classNames.forEach((name, c) => {
      if (count[c] > 0) {
        perClassTestAccuracy[name] = (100 * correct[c]) / count[c];
        perClassTestCount[name] = count[c];
      }
    });

    const forgetAccuracy = accuracyOf(forgetP);
    return {
      evaluator: this.name,
      metrics: { UA: 100 - forgetAccuracy, RA: accuracyOf(retainP), TA: ta, 'TA-all': taAll },
      details: {
        forgetAccuracy,
        perClassTestAccuracy,
        perClassTestCount,
        classToForget: data.classToForget,
        testForTA: taSet.name,
        sizes: {
          forget: forgetP.n,
          retain: data.retain.indices.length,
          retainEvaluated: retainP.n,
          test: testP.n,
          testForTA: taSize,
        },
      },
    };
  }
}
