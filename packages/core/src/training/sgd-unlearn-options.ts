import { z } from 'zod';
import { SGD_FIELDS } from './train.js';

/** Per-method defaults of {@link sgdUnlearnOptionFields}. */
export interface SgdUnlearnDefaults {
  /** Default number of passes over the training set. */
  epochs: number;
  /** Default SGD learning rate. */
  lr: number;
  /**
   * Smallest allowed `epochs`, 0 or 1 (retraining needs at least one pass).
   * @defaultValue 0
   */
  minEpochs?: 0 | 1;
}

/**
 * Build the zod fields every SGD-based unlearner shares: `epochs`, `lr`, `batchSize`,
 * `momentum`, `weightDecay`, `augment` and `evalEvery`, with the same ranges and messages.
 *
 * @param defaults - the method's default `epochs` and `lr`, and optionally `minEpochs`
 * @returns a zod shape to spread into the method's `z.strictObject({...})` (destructure it
 *   to place method-specific fields between `lr` and `batchSize`)
 * @remarks The ranges and messages are core's `train`'s ({@link SGD_FIELDS}: epochs <= 10000,
 * 0 < lr <= 10, batch 1..65536, momentum and weight decay in [0, 1]); the other defaults are the reference code's
 * (batch 256, its `--batch_size` default, which `main_forget.py` uses for every loader; the
 * paper's appendix says 128. Momentum 0.9, weight decay 5e-4 with PyTorch SGD semantics, random
 * crop with 4-pixel padding and horizontal flip on, no evaluation during training).
 *
 * @example
 * ```ts
 * const schema = z.strictObject({ ...sgdUnlearnOptionFields({ epochs: 10, lr: 0.01 }) });
 * ```
 */
export function sgdUnlearnOptionFields(defaults: SgdUnlearnDefaults) {
  const minEpochs = defaults.minEpochs ?? 0;
  const epochsMessage = `epochs must be an integer >= ${minEpochs}`;
  return {
    /** Passes over the training set. */
    epochs:
      minEpochs === 0
        ? SGD_FIELDS.epochs.default(defaults.epochs)
        : z.number().int(epochsMessage).min(minEpochs, epochsMessage).max(10_000, 'epochs must be <= 10000').default(defaults.epochs),
    /** SGD learning rate (peak, for a schedule). */
    lr: SGD_FIELDS.lr.default(defaults.lr),
    /** Images per SGD step (the reference code's `--batch_size`). @defaultValue 256 */
    batchSize: SGD_FIELDS.batchSize.default(256),
    /** SGD momentum. @defaultValue 0.9 */
    momentum: SGD_FIELDS.momentum.default(0.9),
    /** L2 weight decay added to the gradient (PyTorch SGD semantics). @defaultValue 5e-4 */
    weightDecay: SGD_FIELDS.weightDecay.default(5e-4),
    /** Random crop (4-pixel padding) + horizontal flip on the training images, as the reference code. @defaultValue true */
    augment: z.boolean().default(true),
    /** Measure accuracy on `data.validation` every N epochs (0 = never; ignored without a validation set). @defaultValue 0 */
    evalEvery: SGD_FIELDS.evalEvery.default(0),
  };
}

/** The validated shared options of an SGD-based unlearner (see {@link sgdUnlearnOptionFields}). */
export type SgdUnlearnOptions = z.output<z.ZodObject<ReturnType<typeof sgdUnlearnOptionFields>>>;
