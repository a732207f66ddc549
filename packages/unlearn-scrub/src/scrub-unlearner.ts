import {
  type EpochLog,
  SgdOptimizer,
  type UnlearnContext,
  type UnlearnReport,
  type Unlearner,
  ensureGradients,
  evaluateAccuracy,
  learningRateAt,
  requireUnlearnData,
  sgdUnlearnOptionFields,
  throwIfAborted,
} from '@unlearnjs/core';
import { z } from 'zod';
import { type ScrubPassStats, type ScrubStep, scrubPass } from './scrub-pass.js';

// SCRUB's CIFAR-10 settings: the "SCRUB Forgetting" cells of large_scale_unlearning.ipynb in
// meghdadk/SCRUB (class-wise forgetting of a CIFAR-10 model), which set `args.*` as named below.
const { epochs, lr, batchSize, momentum, weightDecay, evalEvery } = sgdUnlearnOptionFields({ epochs: 3, lr: 5e-4 });

/**
 * Zod schema of {@link ScrubOptions}: validates and fills in SCRUB's CIFAR-10 defaults.
 *
 * @remarks Defaults from the "SCRUB Forgetting" cells of `large_scale_unlearning.ipynb` in
 * meghdadk/SCRUB (the authors' code; CIFAR-10, class-wise forgetting): `sgda_epochs = 3`,
 * `sgda_learning_rate = 0.0005`, `msteps = 2`, `kd_T = 4`, `alpha = 0.001`, `gamma = 0.99`,
 * `lr_decay_epochs = [3, 5, 9]`, `lr_decay_rate = 0.1`, `sgda_momentum = 0.9`,
 * `sgda_weight_decay = 5e-4`, forget loader batch 512 and retain loader batch 256 (the
 * notebook's `replace_loader_dataset` calls; its `sgda_batch_size = 128` and
 * `del_batch_size = 32` are set but not used), loaders built with `augment=False`. `beta`
 * (the weight of a feature-distillation term) is 0 there and the term itself is 0 for plain
 * KL distillation (`distill = 'kd'`), so it has no option. Unknown keys are rejected, so a
 * misspelt option fails instead of being ignored.
 */
export const scrubOptionsSchema = z.strictObject({
  /**
   * Epochs (SCRUB's `sgda_epochs`): each is a max pass over D_f (while the epoch is below
   * `msteps`) followed by a min pass over D_r.
   * @defaultValue 3
   */
  epochs,
  /** SGD learning rate (`sgda_learning_rate`), before the decay at `milestones`. @defaultValue 5e-4 */
  lr,
  /**
   * Number of epochs, from the first, that start with a max pass over D_f (`msteps`; SCRUB
   * runs it when `epoch <= msteps` with epochs counted from 1). 0 is pure distillation on D_r.
   * @defaultValue 2
   */
  msteps: z
    .number()
    .int('msteps must be an integer >= 0')
    .min(0, 'msteps must be an integer >= 0')
    .max(10_000, 'msteps must be <= 10000')
    .default(2),
  /** Distillation temperature T of the KL (`kd_T`). @defaultValue 4 */
  temperature: z.number().gt(0, 'temperature must be > 0 (and <= 100)').max(100, 'temperature must be > 0 and <= 100').default(4),
  /** Weight of KL(teacher ‖ student) in the min step's loss (`alpha`). @defaultValue 0.001 */
  alpha: z.number().min(0, 'alpha must be in [0, 1000]').max(1000, 'alpha must be in [0, 1000]').default(0.001),
  /** Weight of the cross-entropy on D_r in the min step's loss (`gamma`). @defaultValue 0.99 */
  gamma: z.number().min(0, 'gamma must be in [0, 1000]').max(1000, 'gamma must be in [0, 1000]').default(0.99),
  /**
   * Epochs (counted from 0) at which the learning rate is multiplied by `lrDecayRate`
   * (`lr_decay_epochs`; SCRUB's `adjust_learning_rate` decays once `epoch > d` with epochs
   * counted from 1, the same epochs). With the default 3 epochs no decay happens.
   * @defaultValue [3, 5, 9]
   */
  milestones: z.array(z.number().int('milestones must be integers >= 0').min(0, 'milestones must be integers >= 0')).default([3, 5, 9]),
  /** Factor applied to the learning rate at each milestone (`lr_decay_rate`). @defaultValue 0.1 */
  lrDecayRate: z.number().gt(0, 'lrDecayRate must be in (0, 1]').max(1, 'lrDecayRate must be in (0, 1]').default(0.1),
  /** Images per max step on D_f (the notebook's forget loader). @defaultValue 512 */
  forgetBatchSize: z
    .number()
    .int('forgetBatchSize must be an integer >= 1')
    .min(1, 'forgetBatchSize must be an integer >= 1')
    .max(65_536, 'forgetBatchSize must be <= 65536')
    .default(512),
  /** Images per min step on D_r (the notebook's retain loader). @defaultValue 256 */
  batchSize,
  /** SGD momentum (`sgda_momentum`), carried across the max and min passes. @defaultValue 0.9 */
  momentum,
  /** L2 weight decay, PyTorch semantics (`sgda_weight_decay`). @defaultValue 5e-4 */
  weightDecay,
  /**
   * Random crop (4-pixel padding) + horizontal flip on D_f and D_r. SCRUB's CIFAR-10 loaders
   * do not augment.
   * @defaultValue false
   */
  augment: z.boolean().default(false),
  /** Measure accuracy on `data.validation` every N epochs (0 = never). @defaultValue 0 */
  evalEvery,
});

/** Validated options of the `scrub` unlearner (see {@link scrubOptionsSchema} for ranges and defaults). */
export type ScrubOptions = z.output<typeof scrubOptionsSchema>;

/**
 * SCRUB: forget by distillation. A frozen copy of the original model is the teacher; the model
 * (the student) is pushed away from it on the forget set and kept close to it, and to the
 * labels, on the retain set.
 *
 * @remarks
 * "Towards Unbounded Machine Unlearning" (Kurmanji, Triantafillou, Hayes, Triantafillou,
 * NeurIPS 2023; code meghdadk/SCRUB). For `epochs` epochs, with one SGD optimiser (momentum,
 * weight decay) for the whole run and the learning rate decayed at `milestones`:
 * 1. while the epoch (from 0) is below `msteps`, a **max pass** over D_f: SGD steps on
 *    −KL(teacher ‖ student), raising the divergence from the original model on what is forgotten;
 * 2. a **min pass** over D_r: SGD steps on γ·CE(student, y) + α·KL(teacher ‖ student), keeping
 *    the accuracy and the original model's outputs on what is retained.
 *
 * The KL is the temperature-scaled distillation divergence ({@link distillKl}). The teacher is
 * `model.clone(...)` made at the start (weights and masks; not adapters, which start at zero
 * change), evaluated in inference mode, never updated, and disposed when the run ends, also
 * on error or abort. The student trains in training mode in both passes, as in SCRUB's code.
 * Masked weights stay exactly zero: every update goes through core's `SgdOptimizer` with the
 * model's masks. With `runUnlearner(..., { adapter })` only the adapter's variables train.
 *
 * The report's per-epoch `loss` is the mean min-step objective over D_r; `extra.forgetKl`
 * holds the mean KL over D_f of each max pass (each batch measured before its update), and
 * `extra.retainKl` / `extra.retainCe` the min passes' terms.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerScrub] });
 * const report = await runUnlearner(container, 'scrub', { model, data }); // SCRUB's CIFAR-10 defaults
 * report.extra.forgetKl; // mean KL(teacher ‖ student) on D_f of each max pass
 * ```
 */
export class ScrubUnlearner implements Unlearner<ScrubOptions> {
  /** The plugin id. */
  readonly name = 'scrub';
  /** {@link scrubOptionsSchema}. */
  readonly optionsSchema = scrubOptionsSchema;

  /**
   * Run SCRUB on the model in place.
   * @param ctx - model (the student: changed in place, masks respected), data (D_f and D_r;
   *   `data.validation` is evaluated when `evalEvery` > 0), validated options, services
   * @returns per-epoch mean min-step objective on D_r, the lr and the epoch's seconds, and in
   *   `extra`: `forgetSize`, `retainSize`, `maxPasses`, `forgetKl` (per max pass),
   *   `retainKl` and `retainCe` (per min pass), `imagesPerSecond`, and `accuracy`
   *   (validation, percent) when it was measured. Nothing to dispose.
   * @throws UnlearnError `UNLEARN_EMPTY_DATA` when D_f or D_r is empty (before the model is
   *   touched); `UNLEARN_NON_FINITE_LOSS` when a batch's objective is NaN/Inf (`runUnlearner`
   *   restores the model); `UNLEARN_ABORTED` when the signal aborts. The teacher is disposed
   *   in every case.
   */
  async unlearn(ctx: UnlearnContext<ScrubOptions>): Promise<UnlearnReport> {
    const { model, data, options: o, services } = ctx;
    requireUnlearnData('scrub', data, ['forget', 'retain']);
    const t0 = performance.now();
    ensureGradients();
    const nf = data.forget.indices.length;
    const nr = data.retain.indices.length;
    const maxPasses = Math.min(o.msteps, o.epochs);
    services.logger.info(
      `scrub: ${o.epochs} epochs (the first ${maxPasses} start with a max pass over ${nf} forget images), each with a min pass over ${nr} retain images (lr ${o.lr}, T ${o.temperature}, alpha ${o.alpha}, gamma ${o.gamma}).`,
    );
    const schedule = { type: 'multistep' as const, milestones: o.milestones, gamma: o.lrDecayRate };
    const logs: EpochLog[] = [];
    const forgetKl: number[] = [];
    const retainKl: number[] = [];
    const retainCe: number[] = [];
    let images = 0;
    let accuracy: number | undefined;
    // The teacher's allocation draws from its own stream; its weights are then the model's.
    const teacher = model.clone(services.rng.fork('teacher'));
    const optimizer = new SgdOptimizer({ momentum: o.momentum, weightDecay: o.weightDecay });
    try {
      for (let epoch = 0; epoch < o.epochs; epoch++) {
        throwIfAborted(services.signal);
        const te = performance.now();
        const lr = learningRateAt(o.lr, epoch, o.epochs, schedule);
        const epochRng = services.rng.fork(`epoch-${epoch}`);
        const withMax = epoch < o.msteps;
        const task = services.progress.start(`scrub epoch ${epoch + 1}/${o.epochs}`, (withMax ? nf : 0) + nr, 'img');
        const pass = (step: ScrubStep): ScrubPassStats =>
          scrubPass({
            student: model,
            teacher,
            data: step === 'max' ? data.forget : data.retain,
            step,
            optimizer,
            lr,
            batchSize: step === 'max' ? o.forgetBatchSize : o.batchSize,
            temperature: o.temperature,
            alpha: o.alpha,
            gamma: o.gamma,
            augment: o.augment,
            rng: epochRng.fork(step),
            signal: services.signal,
            onStep: (n, s) => task.tick(n, step === 'max' ? { forgetKl: s.kl, lr } : { loss: s.loss, acc: s.accuracy, lr }),
            label: `scrub epoch ${epoch + 1} ${step} pass`,
          });
        let forget: ScrubPassStats | undefined;
        if (withMax) {
          forget = pass('max');
          forgetKl.push(forget.kl);
          images += forget.images;
        }
        const retain = pass('min');
        retainKl.push(retain.kl);
        retainCe.push(retain.ce);
        images += retain.images;
        const log: EpochLog = { epoch, loss: retain.loss, lr, seconds: (performance.now() - te) / 1000 };
        const metrics: Record<string, number> = { loss: retain.loss, acc: retain.accuracy };
        if (forget) metrics.forgetKl = forget.kl;
        if (data.validation && o.evalEvery > 0 && ((epoch + 1) % o.evalEvery === 0 || epoch + 1 === o.epochs)) {
          accuracy = evaluateAccuracy(model, data.validation, { signal: services.signal });
          log.accuracy = accuracy;
          metrics.evalAcc = accuracy;
        }
        task.end(metrics);
        logs.push(log);
      }
    } finally {
      optimizer.dispose();
      teacher.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      method: this.name,
      seconds,
      epochs: logs,
      extra: {
        forgetSize: nf,
        retainSize: nr,
        maxPasses,
        forgetKl,
        retainKl,
        retainCe,
        imagesPerSecond: images / Math.max(seconds, 1e-9),
        ...(accuracy === undefined ? {} : { accuracy }),
      },
    };
  }
}
