import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { BackendExtension } from '../backend/backend-extension.js';
import { arraysToTensors, loadModelFromCheckpoint, modelToCheckpoint, tensorsToArrays } from '../checkpoint/model-checkpoint.js';
import { fileExists, readCheckpoint, writeCheckpoint } from '../checkpoint/checkpoint-file.js';
import { type Subset, batches } from '../data/index.js';
import { UnlearnError, isUnlearnError } from '../errors/unlearn-error.js';
import type { Model } from '../models/model.js';
import type { EpochLog } from '../plugins/kinds.js';
import type { RunServices } from '../plugins/services.js';
import { parseOptions } from '../registry/parse-options.js';
import { throwIfAborted } from './abort.js';
import { planTrainingMemory } from './memory-plan.js';
import { ensureGradients } from './gradients.js';
import { evaluateAccuracy } from './predict.js';
import { learningRateAt, scheduleSchema } from './schedule.js';
import { SgdOptimizer } from './sgd.js';

/** What a custom loss sees for one batch. */
export interface LossArgs {
  /** Model outputs `[b, classes]`. */
  logits: tf.Tensor2D;
  /** Labels used for this batch (after any override) `[b]`, int32. */
  labels: tf.Tensor1D;
  /** Epoch index from 0. */
  epoch: number;
  model: Model;
}

/** A batch loss; runs inside the gradient tape and returns a scalar. */
export type LossFunction = (args: LossArgs) => tf.Scalar;

/**
 * Mean softmax cross-entropy of logits against integer labels, optionally label-smoothed.
 *
 * @param logits - `[b, K]` model outputs
 * @param labels - `[b]` class indices
 * @param labelSmoothing - ε in [0, 1] @defaultValue 0
 * @returns the mean loss over the batch (a scalar the caller disposes, or a tidy does)
 * @remarks With ε > 0 the target of each image is `(1 − ε)·onehot + ε/K` over all K classes,
 * the true one included: PyTorch's `F.cross_entropy(logits, labels, label_smoothing=ε)`
 * (Szegedy et al. 2016, "Rethinking the Inception Architecture"), so the loss is
 * `(1 − ε)·NLL + ε·mean_k(−log p_k)`. ε = 0 is the plain cross-entropy.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const classes = logits.shape[1];
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), classes);
    const target = labelSmoothing === 0 ? onehot : tf.add(tf.mul(onehot, 1 - labelSmoothing), labelSmoothing / classes);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), 1))) as tf.Scalar;
  });
}

/**
 * The range and message of each SGD option: the one owner of these bounds for {@link train},
 * the SGD unlearners (`sgdUnlearnOptionFields`) and the training pruners. Add a default where
 * the option is used (`SGD_FIELDS.lr.default(0.01)`).
 */
export const SGD_FIELDS = {
  /** Passes over the training set. */
  epochs: z.number().int('epochs must be an integer >= 0').min(0, 'epochs must be an integer >= 0').max(10_000, 'epochs must be <= 10000'),
  /** SGD learning rate (peak, for a schedule). */
  lr: z.number().gt(0, 'lr must be > 0 (and <= 10)').max(10, 'lr must be > 0 and <= 10'),
  /** Images per SGD step. */
  batchSize: z
    .number()
    .int('batchSize must be an integer >= 1')
    .min(1, 'batchSize must be an integer >= 1')
    .max(65_536, 'batchSize must be <= 65536'),
  /** SGD momentum. */
  momentum: z.number().min(0, 'momentum must be in [0, 1]').max(1, 'momentum must be in [0, 1]'),
  /** L2 weight decay added to the gradient (PyTorch SGD semantics). */
  weightDecay: z.number().min(0, 'weightDecay must be in [0, 1]').max(1, 'weightDecay must be in [0, 1]'),
  /** Evaluate every N epochs (0 = never). */
  evalEvery: z.number().int('evalEvery must be an integer >= 0').min(0, 'evalEvery must be an integer >= 0'),
} as const;

/** Options of {@link train} that are plain data (validated; stored in checkpoints). */
export const trainOptionsSchema = z.object({
  epochs: SGD_FIELDS.epochs,
  batchSize: SGD_FIELDS.batchSize.default(128),
  lr: SGD_FIELDS.lr,
  momentum: SGD_FIELDS.momentum.default(0.9),
  weightDecay: SGD_FIELDS.weightDecay.default(5e-4),
  nesterov: z.boolean().default(false),
  schedule: scheduleSchema.default({ type: 'constant' }),
  warmupEpochs: z.number().int().min(0).default(0),
  /** Epochs the schedule is advanced by (IMP restarts the optimiser with the lr schedule at rewindEpoch). */
  scheduleOffset: z.number().int().min(0).default(0),
  /** Length of the schedule for cosine; default epochs + scheduleOffset. */
  scheduleEpochs: z.number().int().positive().optional(),
  augment: z.boolean().default(true),
  /**
   * Label smoothing ε of the default cross-entropy loss (PyTorch's `label_smoothing`; see
   * {@link crossEntropy}); absent means 0, and a checkpoint written without it still resumes.
   * A custom `loss` cannot be combined with ε > 0.
   */
  labelSmoothing: z.number().min(0, 'labelSmoothing must be in [0, 1]').max(1, 'labelSmoothing must be in [0, 1]').optional(),
  shuffle: z.boolean().default(true),
  dropLast: z.boolean().default(false),
  /** Split each batch into micro-batches of at most this size and accumulate gradients (memory). */
  microBatch: z.number().int().positive().optional(),
  /** Evaluate accuracy on `evalSet` every N epochs (0 = never). */
  evalEvery: SGD_FIELDS.evalEvery.default(1),
  /** Progress label. */
  label: z.string().default('train'),
});

/** Plain options of {@link train}. */
export type TrainConfig = z.input<typeof trainOptionsSchema>;

/** One pass of an epoch: SGD steps over every image of `data` once (see {@link TrainOptions.epochPasses}). */
export interface TrainPass {
  /** The images of this pass (shuffled and augmented as the config says). */
  data: Subset;
  /** Replacement label per position of `data`. @defaultValue the images' own labels */
  labels?: Uint8Array;
}

/** Options of {@link train}. */
export interface TrainOptions extends TrainConfig {
  /**
   * Training images: one pass over them per epoch, unless `epochPasses` is given (then they
   * only size the wasm heap plan, so pass the union of the passes' images).
   */
  data: Subset;
  /** Replacement label per position of `data` (random-label unlearning). */
  labels?: Uint8Array;
  /**
   * The passes of epoch `e`, trained one after the other in this order, each a full pass of
   * SGD steps over its own images (momentum carried across). Called once at the start of each
   * epoch, so the labels may change from epoch to epoch; it must be deterministic in `e` for a
   * resumed run to match. Replaces the single pass over `data` and `labels`.
   * @example Random labels as the reference runs it: `(e) => [{ data: forget, labels: drawn(e) }, { data: retain }]`
   */
  epochPasses?: (epoch: number) => TrainPass[];
  /** Custom loss. @defaultValue cross-entropy */
  loss?: LossFunction;
  /** Where to evaluate accuracy after epochs. */
  evalSet?: Subset;
  /** Checkpoint written atomically after every epoch; with `resume`, training continues from it. */
  checkpoint?: string;
  /** Continue from `checkpoint` when it exists. @defaultValue true */
  resume?: boolean;
  /** Called after each epoch (after the checkpoint), e.g. to save IMP's rewind weights. */
  onEpochEnd?: (info: { epoch: number; log: EpochLog; model: Model }) => void | Promise<void>;
  /** Free-form data stored in the checkpoint meta (e.g. the run config). */
  meta?: Record<string, unknown>;
  services: RunServices;
}

/** What {@link train} returns. */
export interface TrainReport {
  epochs: EpochLog[];
  /** Accuracy on `evalSet` after the last evaluated epoch, percent. */
  accuracy?: number;
  seconds: number;
  imagesPerSecond: number;
  /** The epoch training resumed at (0 when it started fresh). */
  resumedAt: number;
  /** Images per forward/backward pass when batches were split (asked for, or planned to fit the backend's memory). */
  microBatch?: number;
}

function isFiniteNumber(x: number): boolean {
  return Number.isFinite(x);
}

/**
 * Train a model with mini-batch SGD (momentum, weight decay, lr schedule), keeping masked
 * weights at zero, reporting progress, checkpointing after every epoch and resuming.
 *
 * @remarks
 * Determinism: epoch e draws its data order and augmentation from `services.rng.fork('epoch-e')`,
 * so a run resumed from the checkpoint of epoch e produces the same weights as one that was
 * never interrupted. The checkpoint holds weights, buffers, masks, momentum buffers, the epoch,
 * the RNG state and the config, and is written atomically.
 *
 * @param model - trained in place (its trainable variables: unfrozen params and adapters)
 * @param options - data, hyper-parameters, loss, checkpointing, services
 * @returns per-epoch losses, speed and final accuracy
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS`; `UNLEARN_NON_FINITE_LOSS` when a batch loss is NaN/Inf
 *   (the model keeps its last finite state only if the caller restores it; `runUnlearner` does);
 *   `UNLEARN_ABORTED` on abort (the last completed epoch is in the checkpoint)
 */
export async function train(model: Model, options: TrainOptions): Promise<TrainReport> {
  const cfg = parseOptions(trainOptionsSchema, stripFunctions(options), 'train');
  ensureGradients();
  const { logger, progress, signal, rng } = options.services;
  const smoothing = cfg.labelSmoothing ?? 0;
  if (options.loss !== undefined && smoothing > 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `${cfg.label}: labelSmoothing (${smoothing}) applies to the default cross-entropy only; drop it, or smooth the targets in your loss (crossEntropy(logits, labels, ${smoothing})).`,
      { details: { field: 'labelSmoothing', value: smoothing } },
    );
  }
  const lossFn: LossFunction = options.loss ?? ((a) => crossEntropy(a.logits, a.labels, smoothing));
  const optimizer = new SgdOptimizer({ momentum: cfg.momentum, weightDecay: cfg.weightDecay, nesterov: cfg.nesterov });
  const rngState = rng.state();
  const logs: EpochLog[] = [];
  let startEpoch = 0;

  if (options.checkpoint && options.resume !== false && (await fileExists(options.checkpoint))) {
    const ck = await readCheckpoint(options.checkpoint, 'train');
    if (JSON.stringify(ck.meta.rngState) !== JSON.stringify(rngState) || JSON.stringify(ck.meta.trainConfig) !== JSON.stringify(cfg)) {
      throw new UnlearnError(
        'UNLEARN_CHECKPOINT_INCOMPATIBLE',
        `Checkpoint ${options.checkpoint} was written by a run with other options or seed; delete it or use another path.`,
        { details: { file: options.checkpoint } },
      );
    }
    loadModelFromCheckpoint(model, ck, options.checkpoint);
    const extra = arraysToTensors(ck.groups.adapter);
    for (const [n, t] of extra) model.extraParams.get(n)?.assign(t);
    for (const t of extra.values()) t.dispose();
    const opt = arraysToTensors(ck.groups.optimizer);
    optimizer.setState(opt);
    for (const t of opt.values()) t.dispose();
    startEpoch = Number(ck.meta.epoch);
    logs.push(...((ck.meta.logs as EpochLog[]) ?? []));
    logger.info(`${cfg.label}: resumed from ${options.checkpoint} at epoch ${startEpoch}/${cfg.epochs}`);
  }

  const vars = model.trainableVariables();
  const varList = [...vars.values()];
  // A backend with a hard memory limit (the 32-bit wasm heap) gets the images per pass planned
  // before the first step, so a batch that cannot fit is split into micro-batches (or refused)
  // instead of aborting the backend mid-run.
  const extension = activeExtension(options.services);
  let microBatch = cfg.microBatch;
  if (extension?.memory !== undefined && startEpoch < cfg.epochs && options.data.indices.length > 0) {
    const memory = extension.memory;
    const { height, width, channels } = options.data.source;
    const batch = Math.min(cfg.batchSize, options.data.indices.length);
    const plan = await planTrainingMemory(model, batch, cfg.microBatch, [height, width, channels], varList, memory).catch(
      (err: unknown) => {
        throw translated(extension, err, batch, cfg.microBatch);
      },
    );
    if (plan.microBatch < batch && cfg.microBatch === undefined) {
      microBatch = plan.microBatch;
      logger.info(
        `${cfg.label}: a pass of ${batch} images would need ~${((plan.baseBytes + batch * plan.bytesPerImage) / 1024 ** 3).toFixed(1)} GB of ${memory.label}; accumulating gradients over micro-batches of ${microBatch} (the same update).`,
      );
    }
  }
  const t0 = performance.now();
  let images = 0;
  let accuracy: number | undefined;
  const scheduleEpochs = cfg.scheduleEpochs ?? cfg.epochs + cfg.scheduleOffset;
  try {
    for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
      throwIfAborted(signal);
      const epochRng = rng.fork(`epoch-${epoch}`);
      const lr = learningRateAt(cfg.lr, epoch + cfg.scheduleOffset, scheduleEpochs, cfg.schedule, cfg.warmupEpochs);
      const passes: TrainPass[] = options.epochPasses?.(epoch) ?? [{ data: options.data, labels: options.labels }];
      const total = passes.reduce((n, p) => n + p.data.indices.length, 0);
      const task = progress.start(`${cfg.label} epoch ${epoch + 1}/${cfg.epochs}`, total, 'img');
      const te = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let batchIndex = 0;
      // The passes draw from the one epoch rng in turn: a single pass draws exactly as before.
      const epochBatches = function* () {
        for (const pass of passes) {
          yield* batches(pass.data, {
            batchSize: cfg.batchSize,
            shuffle: cfg.shuffle,
            augment: cfg.augment,
            rng: epochRng,
            dropLast: cfg.dropLast,
            labelsOverride: pass.labels,
          });
        }
      };
      for (const batch of epochBatches()) {
        try {
          throwIfAborted(signal);
          const b = batch.x.shape[0];
          const micro = microBatch && microBatch < b ? microBatch : b;
          let lossValue = 0;
          let batchCorrect = 0;
          let grads: Record<string, tf.Tensor> = {};
          for (let s = 0; s < b; s += micro) {
            const e = Math.min(b, s + micro);
            const { value, grads: g } = tf.tidy(() => {
              const x = micro === b ? batch.x : tf.slice(batch.x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
              const y = micro === b ? batch.y : tf.slice(batch.y, [s], [e - s]);
              let correctT: tf.Scalar | undefined;
              const r = tf.variableGrads(() => {
                const logits = model.forward(x as tf.Tensor4D, { training: true, rng: epochRng, maskedGradients: true });
                correctT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'float32')) as tf.Scalar);
                return lossFn({ logits, labels: y as tf.Tensor1D, epoch, model });
              }, varList);
              const scale = (e - s) / b;
              const scaled: Record<string, tf.Tensor> = {};
              for (const [k, v] of Object.entries(r.grads)) scaled[k] = scale === 1 ? v : tf.mul(v, scale);
              const out = { value: tf.stack([tf.mul(r.value, scale), correctT as tf.Scalar]), grads: scaled };
              correctT?.dispose();
              return out;
            });
            const vals = value.dataSync();
            value.dispose();
            lossValue += vals[0];
            batchCorrect += vals[1];
            // Accumulate micro-batch gradients by variable name.
            const named: Record<string, tf.Tensor> = {};
            for (const [name, v] of vars) {
              const gv = g[v.name];
              if (gv) named[name] = gv;
            }
            if (s === 0) grads = named;
            else {
              const acc: Record<string, tf.Tensor> = {};
              for (const [k, v] of Object.entries(named)) {
                acc[k] = tf.add(grads[k], v);
                grads[k].dispose();
                v.dispose();
              }
              grads = acc;
            }
          }
          if (!isFiniteNumber(lossValue)) {
            for (const t of Object.values(grads)) t.dispose();
            throw new UnlearnError(
              'UNLEARN_NON_FINITE_LOSS',
              `${cfg.label}: the loss became ${lossValue} at epoch ${epoch + 1}, batch ${batchIndex + 1}; lower the learning rate (now ${lr}).`,
              { details: { epoch, batch: batchIndex, lr, loss: lossValue } },
            );
          }
          optimizer.step(vars, grads, lr, model.masks);
          for (const t of Object.values(grads)) t.dispose();
          lossSum += lossValue * b;
          correct += batchCorrect;
          seen += b;
          images += b;
          batchIndex++;
          task.tick(b, { loss: lossSum / seen, acc: (100 * correct) / seen, lr });
        } catch (err) {
          throw translated(extension, err, batch.x.shape[0], microBatch);
        } finally {
          batch.x.dispose();
          batch.y.dispose();
        }
      }
      const seconds = (performance.now() - te) / 1000;
      const log: EpochLog = { epoch, loss: seen > 0 ? lossSum / seen : 0, lr, seconds };
      const metrics: Record<string, number> = { loss: log.loss, acc: seen ? (100 * correct) / seen : 0, 'img/s': seen / seconds };
      if (options.evalSet && cfg.evalEvery > 0 && ((epoch + 1) % cfg.evalEvery === 0 || epoch + 1 === cfg.epochs)) {
        accuracy = evaluateAccuracy(model, options.evalSet, { signal });
        metrics.evalAcc = accuracy;
        log.accuracy = accuracy;
      }
      task.end(metrics);
      logs.push(log);
      if (options.checkpoint) {
        const m = modelToCheckpoint(model);
        await writeCheckpoint(options.checkpoint, {
          kind: 'train',
          meta: { ...m.meta, ...(options.meta ?? {}), epoch: epoch + 1, rngState, trainConfig: cfg, logs },
          groups: { ...m.groups, optimizer: tensorsToArrays(optimizer.state()) },
        });
      }
      await options.onEpochEnd?.({ epoch, log, model });
    }
  } finally {
    optimizer.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    epochs: logs,
    accuracy,
    seconds,
    imagesPerSecond: images / Math.max(seconds, 1e-9),
    resumedAt: startEpoch,
    ...(microBatch !== undefined && microBatch < cfg.batchSize ? { microBatch } : {}),
  };
}

/** The run's backend extension, when it extends the backend that is active now. */
function activeExtension(services: RunServices): BackendExtension | undefined {
  const ext = services.backend?.extension;
  return ext !== undefined && ext.backend === tf.getBackend() ? ext : undefined;
}

/**
 * What to throw for a failed step: the extension's coded error for a failure of its backend
 * (e.g. the wasm module aborting when its heap is full, which would otherwise surface as an
 * unexplained RuntimeError), or `err` itself.
 */
function translated(extension: BackendExtension | undefined, err: unknown, batch: number, microBatch: number | undefined): unknown {
  if (extension?.translateError === undefined || isUnlearnError(err)) return err;
  return extension.translateError(err, microBatch === undefined ? { batch } : { batch, microBatch }) ?? err;
}

function stripFunctions(o: TrainOptions): TrainConfig {
  const { data, labels, epochPasses, loss, evalSet, checkpoint, resume, onEpochEnd, meta, services, ...rest } = o;
  return rest;
}
