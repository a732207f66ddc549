import { REFERENCE_RECIPE, SGD_FIELDS, scheduleSchema } from '@unlearnjs/core';
import { z } from 'zod';

/**
 * Zod fields shared by the training pruners (`omp`, `imp`): the SGD recipe of every round
 * (defaults: the reference recipe for CIFAR-10 ResNet-18), what to evaluate after each round,
 * and which weights to prune.
 */
export const roundTrainingFields = {
  /** Peak learning rate. @defaultValue 0.1 */
  lr: SGD_FIELDS.lr.default(REFERENCE_RECIPE.lr),
  /** @defaultValue 256 */
  batchSize: SGD_FIELDS.batchSize.default(REFERENCE_RECIPE.batchSize),
  /** @defaultValue 0.9 */
  momentum: SGD_FIELDS.momentum.default(REFERENCE_RECIPE.momentum),
  /** @defaultValue 5e-4 */
  weightDecay: SGD_FIELDS.weightDecay.default(REFERENCE_RECIPE.weightDecay),
  /** lr schedule over a round's epochs. @defaultValue multistep ×0.1 at epochs 91 and 136 */
  schedule: scheduleSchema.default({ type: 'multistep', milestones: [91, 136], gamma: 0.1 }),
  /** Linear warm-up epochs of each round. @defaultValue 0 */
  warmupEpochs: z.number().int().min(0).default(0),
  /** Random crop + flip while training. @defaultValue true */
  augment: z.boolean().default(true),
  /** Split each batch into micro-batches of at most this size (memory). */
  microBatch: z.number().int().positive().optional(),
  /** Where to measure the accuracy reported after each round. @defaultValue 'test' */
  evalSet: z.enum(['test', 'validation', 'none']).default('test'),
  /** Also evaluate every N epochs inside a round (0 = only after the round). @defaultValue 0 */
  evalEvery: SGD_FIELDS.evalEvery.default(0),
  /**
   * The weights to prune (ranked together); each must be prunable in the model.
   * @defaultValue every prunable weight of the model
   */
  names: z.array(z.string().min(1)).min(1).optional(),
};

/** Schema of the training fields every training pruner shares. */
export const roundTrainingSchema = z.strictObject(roundTrainingFields);

/** The validated training fields of the `omp` and `imp` options. */
export type RoundTraining = z.output<typeof roundTrainingSchema>;
