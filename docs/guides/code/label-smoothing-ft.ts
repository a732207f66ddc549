// docs/guides/code/label-smoothing-ft.ts
import * as tf from '@tensorflow/tfjs-core';
import {
  API_VERSION,
  type OptionsByNameOf,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  definePlugin,
  registerPlugin,
  requireUnlearnData,
  sgdUnlearnOptionFields,
  trainUnlearner,
} from '@unlearnjs/core';
import { z } from 'zod';

// epochs, lr, batchSize, momentum, weightDecay, augment, evalEvery: the shared SGD fields with
// the same ranges, messages and reference defaults as every first-party method; only the
// method's own knob is written here.
export const smoothFtOptionsSchema = z.strictObject({
  ...sgdUnlearnOptionFields({ epochs: 10, lr: 0.01 }),
  /** Label smoothing ε in [0, 1): the target puts 1 − ε on the label and ε/K on every class. */
  smoothing: z.number().min(0).lt(1).default(0.1),
});
export type SmoothFtOptions = z.output<typeof smoothFtOptionsSchema>;

export class SmoothFtUnlearner implements Unlearner<SmoothFtOptions> {
  readonly name = 'smooth-ft';
  readonly optionsSchema = smoothFtOptionsSchema;

  async unlearn(ctx: UnlearnContext<SmoothFtOptions>): Promise<UnlearnReport> {
    requireUnlearnData(this.name, ctx.data, ['retain']); // UNLEARN_EMPTY_DATA, before any work
    const eps = ctx.options.smoothing;
    // trainUnlearner runs core's train with the validated SGD options: masks stay exactly zero,
    // progress, abort, NaN checks and the report come with it. Only the loss is ours.
    return trainUnlearner(ctx, {
      method: this.name,
      data: ctx.data.retain,
      loss: ({ logits, labels }) =>
        tf.tidy(() => {
          const k = logits.shape[1];
          const target = tf.add(tf.mul(tf.oneHot(tf.cast(labels, 'int32'), k), 1 - eps), eps / k);
          return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1))) as tf.Scalar;
        }),
      extra: { smoothing: eps },
    });
  }
}

export const smoothFtPlugin = definePlugin({
  kind: 'unlearner',
  name: 'smooth-ft',
  apiVersion: API_VERSION,
  description: 'Fine-tuning on D_r with label smoothing.',
  create: () => new SmoothFtUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof smoothFtPlugin> {}
}

export function registerSmoothFt(container: Parameters<typeof registerPlugin>[0]): void {
  registerPlugin(container, smoothFtPlugin);
}
