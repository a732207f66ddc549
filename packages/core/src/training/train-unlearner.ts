import type { Subset } from '../data/index.js';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { UnlearnContext, UnlearnData, UnlearnReport } from '../plugins/kinds.js';
import type { Schedule } from './schedule.js';
import type { SgdUnlearnOptions } from './sgd-unlearn-options.js';
import { type LossFunction, type TrainOptions, type TrainReport, train } from './train.js';

/** What {@link trainUnlearner} trains on, and how it reports. */
export interface TrainUnlearnerOptions {
  /** The plugin id: the report's `method` and the progress label. */
  method: string;
  /** The images to train on (e.g. `ctx.data.retain`). */
  data: Subset;
  /** Replacement label per position of `data` (random-label unlearning). */
  labels?: Uint8Array;
  /**
   * The passes of each epoch, in order, instead of one pass over `data` (which then only
   * sizes the wasm heap plan: pass the union of the passes' images). See core's `train`.
   */
  epochPasses?: TrainOptions['epochPasses'];
  /** Custom loss. @defaultValue cross-entropy */
  loss?: LossFunction;
  /** Learning-rate schedule. @defaultValue `{ type: 'constant' }` */
  schedule?: Schedule;
  /**
   * Method-specific statistics placed first in the report's `extra`; a function is called
   * after training (for statistics of the trained model).
   */
  extra?: Record<string, unknown> | ((report: TrainReport) => Record<string, unknown>);
  /**
   * `performance.now()` when the unlearning step began, so that work done before training
   * (re-initialisation, relabelling, norms) counts in the report's `seconds`.
   * @defaultValue the time of the call
   */
  startedAt?: number;
}

/**
 * Run core's {@link train} with an SGD-based unlearner's validated options and turn the
 * result into its {@link UnlearnReport}.
 *
 * @param ctx - the unlearner's context: model (trained in place, masks respected), data
 *   (`data.validation` is the evaluation set when `options.evalEvery` > 0), validated shared
 *   options (see {@link sgdUnlearnOptionFields}) and services
 * @param options - method id, training set, optional labels, loss, schedule and extra statistics
 * @returns `method`, wall-clock `seconds` since `startedAt`, the per-epoch logs, and in `extra`:
 *   the method's statistics, `imagesPerSecond`, and `accuracy` (validation, percent) when it
 *   was measured. Nothing to dispose.
 * @throws UnlearnError from {@link train}: `UNLEARN_INVALID_OPTIONS`, `UNLEARN_NON_FINITE_LOSS`
 *   when a batch loss is NaN/Inf (`runUnlearner` restores the model), `UNLEARN_ABORTED` when
 *   the signal aborts
 * @remarks Training uses mini-batch SGD with momentum and weight decay for `epochs` passes,
 * with the constant schedule unless one is given; `train` keeps masked weights exactly zero,
 * reports progress and honours the abort signal.
 */
export async function trainUnlearner(ctx: UnlearnContext<SgdUnlearnOptions>, options: TrainUnlearnerOptions): Promise<UnlearnReport> {
  const { model, data, options: o, services } = ctx;
  const t0 = options.startedAt ?? performance.now();
  const report = await train(model, {
    data: options.data,
    labels: options.labels,
    epochPasses: options.epochPasses,
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    schedule: options.schedule ?? { type: 'constant' },
    augment: o.augment,
    loss: options.loss,
    evalSet: o.evalEvery > 0 ? data.validation : undefined,
    evalEvery: o.evalEvery,
    label: options.method,
    services,
  });
  const seconds = (performance.now() - t0) / 1000;
  const extra = typeof options.extra === 'function' ? options.extra(report) : (options.extra ?? {});
  return {
    method: options.method,
    seconds,
    epochs: report.epochs,
    extra: {
      ...extra,
      imagesPerSecond: report.imagesPerSecond,
      ...(report.accuracy === undefined ? {} : { accuracy: report.accuracy }),
    },
  };
}

/** The sets of {@link UnlearnData} a method may need. */
export type UnlearnSetName = 'forget' | 'retain';

const EMPTY_SET_ADVICE: Record<UnlearnSetName, string> = {
  forget: 'there is nothing to forget; choose at least one image to forget (numToForget, or a classToForget the training split holds)',
  retain: 'forget fewer images so that some remain (a numToForget below the training split size)',
};

/**
 * Refuse to unlearn when a set the method needs has no image, before the model is touched.
 *
 * @param method - the plugin id, for the message (e.g. `'ga'`)
 * @param data - the unlearner's data
 * @param needs - the sets the method cannot do without (`'forget'`, `'retain'`)
 * @throws UnlearnError `UNLEARN_EMPTY_DATA` naming the method and the first empty set it
 *   needs (`details.method`, `details.set`)
 * @remarks Without it, gradient ascent on an empty D_f or fine-tuning on an empty D_r runs no
 * step and reports success, and retrain returns an untrained model.
 *
 * @example
 * ```ts
 * requireUnlearnData('ga', ctx.data, ['forget']);
 * ```
 */
export function requireUnlearnData(method: string, data: UnlearnData, needs: readonly UnlearnSetName[]): void {
  for (const set of needs) {
    if (data[set].indices.length > 0) continue;
    throw new UnlearnError(
      'UNLEARN_EMPTY_DATA',
      `Unlearner "${method}" needs a non-empty ${set} set (D_${set === 'forget' ? 'f' : 'r'}), but it has no image: ${EMPTY_SET_ADVICE[set]}.`,
      { details: { method, set } },
    );
  }
}
