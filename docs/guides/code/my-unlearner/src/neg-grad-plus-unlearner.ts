// docs/guides/code/my-unlearner/src/neg-grad-plus-unlearner.ts
import * as tf from '@tensorflow/tfjs-core';
import {
  type Batch,
  type LossFunction,
  type Rng,
  type Subset,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  UnlearnError,
  batches,
  crossEntropy,
  train,
} from '@unlearnjs/core';
import { type NegGradPlusOptions, negGradPlusOptionsSchema } from './options.js';

/** Shuffled, augmented batches of `subset` without end: a new seeded pass whenever one ends. */
function* endlessBatches(subset: Subset, batchSize: number, rng: Rng): Generator<Batch, never> {
  for (let pass = 0; ; pass++) {
    yield* batches(subset, { batchSize, shuffle: true, augment: true, rng: rng.fork(`pass-${pass}`) });
  }
}

/**
 * NegGrad+: fine-tune on the retain set D_r while ascending the loss on the forget set D_f,
 * with the one loss CE(retain batch) − β·CE(forget batch).
 */
export class NegGradPlusUnlearner implements Unlearner<NegGradPlusOptions> {
  readonly name = 'neg-grad-plus';
  readonly optionsSchema = negGradPlusOptionsSchema;

  async unlearn({ model, data, options, services }: UnlearnContext<NegGradPlusOptions>): Promise<UnlearnReport> {
    if (data.forget.indices.length === 0) {
      throw new UnlearnError(
        'UNLEARN_DATA_MISSING',
        'neg-grad-plus needs a non-empty forget set; pass the images to forget as data.forget.',
      );
    }
    const forgetBatches = endlessBatches(data.forget, options.batchSize, services.rng.fork('forget-batches'));
    const dropoutRng = services.rng.fork('forget-dropout');

    // Runs inside train's gradient tape and tf.tidy: the forget batch drawn here, and every
    // tensor made from it, is freed with the retain batch's tensors after the step.
    const loss: LossFunction = ({ logits, labels }) => {
      const forget = forgetBatches.next().value;
      const forgetLogits = model.forward(forget.x, { training: true, rng: dropoutRng });
      return tf.sub(crossEntropy(logits, labels), tf.mul(options.beta, crossEntropy(forgetLogits, forget.y)));
    };

    // core's train: SGD with momentum and weight decay, masks kept at zero after every step,
    // progress, abort, and UNLEARN_NON_FINITE_LOSS if −β·CE(forget) runs away.
    const report = await train(model, {
      data: data.retain,
      epochs: options.epochs,
      batchSize: options.batchSize,
      lr: options.lr,
      loss,
      label: this.name,
      services,
    });
    return { method: this.name, seconds: report.seconds, epochs: report.epochs, extra: { beta: options.beta } };
  }
}
