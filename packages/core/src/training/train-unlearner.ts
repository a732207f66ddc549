import type { Subset } from '../data/index.js';
import type { UnlearnContext, UnlearnReport } from '../plugins/kinds.js';
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
