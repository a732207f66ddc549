import * as tf from '@tensorflow/tfjs-core';
import { batches, subsetLabels, type Subset } from '../data/index.js';
import type { Model } from '../models/model.js';
import type { ProgressReporter } from '../progress/progress.js';
import { throwIfAborted } from './abort.js';

/** Options of {@link predictProbabilities}. */
export interface PredictOptions {
  /** Images per forward pass. @defaultValue 256 */
  batchSize?: number;
  /** Progress reporting. */
  progress?: ProgressReporter;
  /** Label of the progress task. @defaultValue 'predict' */
  label?: string;
  signal?: AbortSignal;
}

/** Softmax outputs of a model over a subset, kept in plain memory. */
export interface Predictions {
  /** Row-major `[n, classes]` softmax probabilities. */
  probs: Float32Array;
  /** True labels, `[n]`. */
  labels: Uint8Array;
  /** Predicted class (argmax), `[n]`. */
  predicted: Uint8Array;
  n: number;
  classes: number;
}

/**
 * Run a model in eval mode (no augmentation) over a subset, batch by batch, and collect the
 * softmax probabilities in plain memory: no logits tensor outlives its batch.
 *
 * @param model - the model (not changed)
 * @param subset - the images
 * @param options - batch size, progress, abort signal
 * @returns probabilities, labels and argmax predictions (plain arrays; nothing to dispose)
 * @throws UnlearnError `UNLEARN_ABORTED` when the signal fires
 */
export function predictProbabilities(model: Model, subset: Subset, options: PredictOptions = {}): Predictions {
  const batchSize = options.batchSize ?? 256;
  const n = subset.indices.length;
  let classes = 0;
  let probs = new Float32Array(0);
  const task = options.progress?.start(options.label ?? 'predict', n, 'img');
  let offset = 0;
  for (const batch of batches(subset, { batchSize, shuffle: false, augment: false })) {
    try {
      throwIfAborted(options.signal);
      const p = tf.tidy(() => tf.softmax(model.forward(batch.x, { training: false })));
      const data = p.dataSync() as Float32Array;
      if (classes === 0) {
        classes = p.shape[1] as number;
        probs = new Float32Array(n * classes);
      }
      probs.set(data, offset * classes);
      offset += p.shape[0] as number;
      task?.tick(p.shape[0] as number);
      p.dispose();
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  task?.end();
  const labels = subsetLabels(subset);
  const predicted = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + best]) best = c;
    predicted[i] = best;
  }
  return { probs, labels, predicted, n, classes };
}

/**
 * Top-1 accuracy of a model on a subset, in percent (0 for an empty subset).
 *
 * @param model - the model (not changed)
 * @param subset - the images
 * @param options - batch size, progress, abort signal
 * @returns accuracy in [0, 100]
 */
export function evaluateAccuracy(model: Model, subset: Subset, options: PredictOptions = {}): number {
  if (subset.indices.length === 0) return 0;
  const p = predictProbabilities(model, subset, options);
  let correct = 0;
  for (let i = 0; i < p.n; i++) if (p.predicted[i] === p.labels[i]) correct++;
  return (100 * correct) / p.n;
}
