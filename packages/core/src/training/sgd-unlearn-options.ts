import { z } from 'zod';

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
 * @remarks The ranges are those of core's `train` (epochs <= 10000, 0 < lr <= 10, batch
 * 1..65536, momentum and weight decay in [0, 1]); the other defaults are the reference code's
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
    epochs: z.number().int(epochsMessage).min(minEpochs, epochsMessage).max(10_000, 'epochs must be <= 10000').default(defaults.epochs),
    /** SGD learning rate (peak, for a schedule). */
    lr: z.number().gt(0, 'lr must be > 0 (and <= 10)').max(10, 'lr must be > 0 and <= 10').default(defaults.lr),
    /** Images per SGD step (the reference code's `--batch_size`). @defaultValue 256 */
    batchSize: z
      .number()
      .int('batchSize must be an integer >= 1')
      .min(1, 'batchSize must be an integer >= 1')
      .max(65_536, 'batchSize must be <= 65536')
      .default(256),
    /** SGD momentum. @defaultValue 0.9 */
    momentum: z.number().min(0, 'momentum must be in [0, 1]').max(1, 'momentum must be in [0, 1]').default(0.9),
    /** L2 weight decay added to the gradient (PyTorch SGD semantics). @defaultValue 5e-4 */
    weightDecay: z.number().min(0, 'weightDecay must be in [0, 1]').max(1, 'weightDecay must be in [0, 1]').default(5e-4),
    /** Random crop (4-pixel padding) + horizontal flip on the training images, as the reference code. @defaultValue true */
    augment: z.boolean().default(true),
    /** Measure accuracy on `data.validation` every N epochs (0 = never; ignored without a validation set). @defaultValue 0 */
    evalEvery: z.number().int('evalEvery must be an integer >= 0').min(0, 'evalEvery must be an integer >= 0').default(0),
  };
}

/** The validated shared options of an SGD-based unlearner (see {@link sgdUnlearnOptionFields}). */
export type SgdUnlearnOptions = z.output<z.ZodObject<ReturnType<typeof sgdUnlearnOptionFields>>>;
