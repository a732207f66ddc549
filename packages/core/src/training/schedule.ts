import { z } from 'zod';

/**
 * Learning-rate schedule, evaluated per epoch (fractional epochs allowed for warm-up).
 *
 * @remarks Each variant is strict: a misspelt field (`minlr`) is an error, not ignored.
 */
export const scheduleSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('constant') }),
  z.strictObject({
    type: z.literal('multistep'),
    /** Epochs at which lr is multiplied by gamma. */
    milestones: z.array(z.number().int().nonnegative()),
    gamma: z.number().positive().max(1).default(0.1),
  }),
  z.strictObject({ type: z.literal('cosine'), minLr: z.number().nonnegative().default(0) }),
]);

/** A learning-rate schedule. */
export type Schedule = z.input<typeof scheduleSchema>;

/**
 * Learning rate at a (possibly fractional) epoch.
 *
 * @param baseLr - peak learning rate
 * @param epoch - epochs elapsed, from 0
 * @param totalEpochs - length of the schedule (cosine)
 * @param schedule - the schedule
 * @param warmupEpochs - linear warm-up from 0 to baseLr over this many epochs @defaultValue 0
 * @returns the learning rate
 *
 * @remarks multistep follows PyTorch's MultiStepLR (lr·γ^k after k milestones passed); cosine
 * follows CosineAnnealingLR without restarts.
 */
export function learningRateAt(baseLr: number, epoch: number, totalEpochs: number, schedule: Schedule, warmupEpochs = 0): number {
  if (warmupEpochs > 0 && epoch < warmupEpochs) return (baseLr * (epoch + 1)) / (warmupEpochs + 1);
  switch (schedule.type) {
    case 'constant':
      return baseLr;
    case 'multistep': {
      const passed = schedule.milestones.filter((m) => epoch >= m).length;
      return baseLr * (schedule.gamma ?? 0.1) ** passed;
    }
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const t = Math.min(1, Math.max(0, epoch / Math.max(1, totalEpochs)));
      return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * t));
    }
  }
}

/**
 * The reference recipe of the paper's public code for CIFAR-10 ResNet-18: SGD lr 0.1,
 * momentum 0.9, weight decay 5e-4, batch 256, 182 epochs, lr ×0.1 at 91 and 136, no warm-up.
 */
export const REFERENCE_RECIPE = Object.freeze({
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  batchSize: 256,
  epochs: 182,
  schedule: { type: 'multistep', milestones: [91, 136], gamma: 0.1 } as Schedule,
  warmupEpochs: 0,
});
