import { type Subset, subsetLabels } from '../data/index.js';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { Model } from '../models/model.js';
import type { Rng } from '../random/rng.js';
import type { TrainPass } from './train.js';

/**
 * Refuse a class count random labels cannot be drawn over (labels are bytes).
 * @param numClasses - the model's number of classes
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` unless an integer in 2..256
 */
export function requireLabelClassCount(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > 256) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Random-label unlearning needs between 2 and 256 classes, got ${numClasses}.`, {
      details: { field: 'numClasses', value: numClasses },
    });
  }
}

/**
 * Draw a label for each of `n` samples, uniformly over all `numClasses` classes (a sample may
 * draw its own label), as the reference code's `torch.randint(0, num_classes, shape)`.
 *
 * @param n - number of samples
 * @param numClasses - number of classes, an integer in 2..256
 * @param rng - the randomness (one draw per sample, in order: same state, same labels)
 * @returns a new array of `n` labels in `0..numClasses-1`
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `numClasses` is not an integer in 2..256
 */
export function uniformRandomLabels(n: number, numClasses: number, rng: Rng): Uint8Array {
  requireLabelClassCount(numClasses);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(numClasses);
  return out;
}

/**
 * The passes of each epoch of the reference's random labels (RL in OPTML-Group/Unlearn-Saliency,
 * which SalUn also trains with): D_f with labels drawn afresh for the epoch (uniform over all
 * classes), then D_r with its true labels.
 *
 * @param forget - D_f
 * @param retain - D_r
 * @param numClasses - number of classes of the model, 2..256
 * @param rng - randomness of the labels: epoch e draws from `rng.fork('epoch-e')`, so the
 *   labels of an epoch do not depend on the epochs before it (a resumed run draws the same)
 * @returns for `train`/`trainUnlearner` (`epochPasses`): epoch → `[forget pass, retain pass]`;
 *   plain arrays, nothing to dispose
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `numClasses` is outside 2..256
 * @remarks The reference draws `torch.randint` per forget batch; every forget image is in
 * exactly one batch of an epoch, so one uniform draw per image per epoch is the same
 * distribution.
 */
export function randomLabelPasses(forget: Subset, retain: Subset, numClasses: number, rng: Rng): (epoch: number) => TrainPass[] {
  requireLabelClassCount(numClasses);
  return (epoch) => [
    { data: forget, labels: uniformRandomLabels(forget.indices.length, numClasses, rng.fork(`epoch-${epoch}`)) },
    { data: retain },
  ];
}

/**
 * Number of model outputs: the last dimension of the classifier kernel.
 * @param model - the model
 * @returns its number of classes
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the classifier names no parameter
 */
export function classifierOutputs(model: Model): number {
  const kernel = model.params.get(model.classifier.kernel);
  if (!kernel) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Model ${model.arch} names classifier "${model.classifier.kernel}", which is not one of its parameters.`,
      { details: { classifier: model.classifier.kernel } },
    );
  }
  return kernel.shape[kernel.shape.length - 1];
}

/**
 * Refuse labels the model cannot output (one-hot of an out-of-range label is all zeros: no loss, no error).
 * @param set - the images
 * @param which - how messages name the set, e.g. `'Forget'`
 * @param numClasses - the model's number of outputs
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming the first label at or above `numClasses`
 */
export function requireLabelsBelow(set: Subset, which: string, numClasses: number): void {
  const labels = subsetLabels(set);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `${which} sample ${i} has label ${labels[i]}, but the model has ${numClasses} classes; use a model with as many outputs as the data has classes.`,
        { details: { field: 'labels', position: i, label: labels[i], numClasses } },
      );
    }
  }
}

/**
 * D_f then D_r as one subset of their common image set (what sizes the wasm heap plan of a
 * run whose epochs are passes over both).
 * @param forget - first
 * @param retain - second, a view of the same image set
 * @param who - how the message names the method, e.g. `'SalUn'`
 * @returns the concatenated subset
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when they view different image sets
 */
export function concatSubsets(forget: Subset, retain: Subset, who: string): Subset {
  if (forget.source !== retain.source) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `${who} needs the forget and retain sets to be views of the same image set (as makeSplits returns them); build both from one ImageSet.`,
      { details: { field: 'data' } },
    );
  }
  const indices = new Int32Array(forget.indices.length + retain.indices.length);
  indices.set(forget.indices, 0);
  indices.set(retain.indices, forget.indices.length);
  return { source: forget.source, indices };
}
