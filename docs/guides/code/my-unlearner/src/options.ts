// docs/guides/code/my-unlearner/src/options.ts
import { z } from 'zod';

/** Options of `neg-grad-plus`, validated and defaulted by `runUnlearner` before the plugin runs. */
export const negGradPlusOptionsSchema = z.strictObject({
  /** Passes over the retain set D_r. */
  epochs: z.number().int().min(0).max(1000).default(5),
  /** SGD learning rate (constant). */
  lr: z.number().gt(0).max(10).default(0.01),
  /** Weight of the forget term in CE(retain batch) − β·CE(forget batch). 0 is plain fine-tuning. */
  beta: z.number().min(0).max(10).default(0.1),
  /** Images per retain batch and per forget batch. */
  batchSize: z.number().int().min(1).max(65_536).default(128),
});

/** Validated options of `neg-grad-plus` (every field filled in). */
export type NegGradPlusOptions = z.output<typeof negGradPlusOptionsSchema>;
