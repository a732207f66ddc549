import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CheckpointData,
  type NamedTensors,
  type PruneContext,
  type PruneReport,
  type PruneRound,
  type SparsityReport,
  UnlearnError,
  arraysToTensors,
  evaluateAccuracy,
  fileExists,
  loadModelFromCheckpoint,
  readCheckpoint,
  saveModel,
  throwIfAborted,
  train,
  writeFileAtomic,
} from '@unlearnjs/core';
import { globalMagnitudeMasks } from './global-magnitude-masks.js';
import { resolvePruneNames, setMasksMerged } from './mask-arrays.js';
import type { RoundTraining } from './round-training-options.js';
import { formatSparsity, sparsityReport } from './sparsity-report.js';

/** Checkpoint kind of a finished round (`round-<k>.ckpt`). */
export const PRUNE_ROUND_KIND = 'prune-round';
/** Checkpoint kind of the rewind weights (`rewind.ckpt`). */
export const PRUNE_REWIND_KIND = 'prune-rewind';

/**
 * The files a training pruner writes in its checkpoint folder.
 *
 * @param checkpointDir - the folder given to the pruner
 * @returns the path builders: `round(k)` = `round-<k>.ckpt` (weights, buffers, masks, round,
 *   sparsity, accuracy: what the unlearning step loads), `train(k)` = `round-<k>.train.ckpt`
 *   (train's per-epoch checkpoint of the round in progress, removed once the round is saved),
 *   `sparsity(k)` = `sparsity-round-<k>.json`, and `rewind` = `rewind.ckpt`
 * @example
 * ```ts
 * await loadModel(pruneCheckpointFiles(dir).round(1), model); // the 95%-sparse OMP model
 * ```
 */
export function pruneCheckpointFiles(checkpointDir: string): {
  round(k: number): string;
  train(k: number): string;
  sparsity(k: number): string;
  rewind: string;
} {
  return {
    round: (k) => join(checkpointDir, `round-${k}.ckpt`),
    train: (k) => join(checkpointDir, `round-${k}.train.ckpt`),
    sparsity: (k) => join(checkpointDir, `sparsity-round-${k}.json`),
    rewind: join(checkpointDir, 'rewind.ckpt'),
  };
}

/**
 * What a lottery-ticket style procedure does, round by round (internal to `omp` and `imp`).
 * @internal
 */
export interface LotteryPlan {
  /** Pruner id, for the report, logs and checkpoints. */
  pruner: string;
  /** Rounds in all: round 0 trains the model as given, each later one prunes then trains. */
  rounds: number;
  /** Share of the alive weights removed before each round k ≥ 1. */
  rate: number;
  /** Epochs of round 0. */
  firstEpochs: number;
  /** Epochs of every later round. */
  laterEpochs: number;
  /** Epochs the lr schedule of later rounds is advanced by. */
  laterScheduleOffset: number;
  /**
   * What the surviving weights are reset to after pruning: `'init'` (the weights before
   * round 0), `'none'` (keep the trained weights: fine-tuning), or an epoch e ≥ 1 of round 0
   * (the weights after its e-th epoch).
   */
  rewind: 'init' | 'none' | number;
  training: RoundTraining;
}

function fingerprint(plan: LotteryPlan, ctx: PruneContext<unknown>): string {
  const { model, services } = ctx;
  return JSON.stringify({ plan, arch: model.arch, config: model.config, rng: services.rng.state() });
}

function checkFingerprint(ck: CheckpointData, expected: string, file: string): void {
  if (ck.meta.fingerprint !== expected) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `${file} was written by a pruning run with other options, seed or model; delete the checkpoint folder or choose another one.`,
      { details: { file } },
    );
  }
}

function roundFromMeta(meta: Record<string, unknown>, file: string): PruneRound {
  const round: PruneRound = {
    round: Number(meta.round),
    sparsity: meta.sparsity as SparsityReport,
    checkpoint: file,
    seconds: Number(meta.seconds ?? 0),
  };
  if (typeof meta.accuracy === 'number') round.accuracy = meta.accuracy;
  return round;
}

/**
 * Run train → (prune → rewind → train)* with per-round checkpoints and resume. The engine of
 * the `omp` and `imp` pruners.
 *
 * @param ctx - the pruner's context (model pruned in place)
 * @param plan - the rounds
 * @returns the report of every round, those loaded from checkpoints included
 * @throws UnlearnError `UNLEARN_DATA_MISSING` when a round trains and `ctx.data` is absent;
 *   `UNLEARN_INVALID_OPTIONS` for a bad `names`; `UNLEARN_CHECKPOINT_INCOMPATIBLE` when the
 *   folder holds another run's checkpoints; `UNLEARN_CHECKPOINT_MISSING` when resuming needs
 *   rewind weights that were never saved; `UNLEARN_ABORTED` on abort; what `train` throws
 * @internal
 */
export async function runLotteryRounds(ctx: PruneContext<unknown>, plan: LotteryPlan): Promise<PruneReport> {
  const t0 = performance.now();
  const { model, data, checkpointDir, services } = ctx;
  const { logger, signal } = services;
  const names = resolvePruneNames(model, plan.training.names);
  const trains = plan.firstEpochs > 0 || (plan.rounds > 1 && plan.laterEpochs > 0);
  if (trains && !data) {
    throw new UnlearnError(
      'UNLEARN_DATA_MISSING',
      `Pruner "${plan.pruner}" trains (epochs ${plan.firstEpochs}, later rounds ${plan.laterEpochs}) but was given no data; pass the data splits, or set the epochs to 0 to prune a trained model without training.`,
      { details: { pruner: plan.pruner } },
    );
  }
  const files = checkpointDir ? pruneCheckpointFiles(checkpointDir) : undefined;
  const print = fingerprint(plan, ctx);
  const evalSubset = plan.training.evalSet === 'none' ? undefined : data?.[plan.training.evalSet];
  const rounds: PruneRound[] = [];
  let rewindWeights: NamedTensors | undefined;
  const setRewind = (weights: NamedTensors) => {
    for (const t of rewindWeights?.values() ?? []) t.dispose();
    rewindWeights = weights;
  };
  const rewindMeta = () => ({ pruner: plan.pruner, fingerprint: print, rewind: plan.rewind });

  try {
    // Resume: every consecutive finished round is taken from its checkpoint.
    let start = 0;
    let last: { ck: CheckpointData; file: string } | undefined;
    while (files && start < plan.rounds && (await fileExists(files.round(start)))) {
      const file = files.round(start);
      const ck = await readCheckpoint(file, PRUNE_ROUND_KIND);
      checkFingerprint(ck, print, file);
      rounds.push(roundFromMeta(ck.meta, file));
      last = { ck, file };
      start++;
    }
    if (last) {
      const { ck, file } = last;
      loadModelFromCheckpoint(model, ck, file);
      logger.info(`${plan.pruner}: resumed after round ${start - 1} from ${last.file}`);
    }
    if (start < plan.rounds && plan.rewind !== 'none') {
      if (files && (await fileExists(files.rewind))) {
        const ck = await readCheckpoint(files.rewind, PRUNE_REWIND_KIND);
        checkFingerprint(ck, print, files.rewind);
        setRewind(arraysToTensors(ck.groups.weights));
      } else if (plan.rewind === 'init' && start === 0) {
        setRewind(model.snapshot());
        if (files) await saveModel(files.rewind, model, rewindMeta(), PRUNE_REWIND_KIND);
      }
    }

    for (let k = start; k < plan.rounds; k++) {
      throwIfAborted(signal);
      const tk = performance.now();
      if (k > 0) {
        const masks = globalMagnitudeMasks(model, { rate: plan.rate, names });
        try {
          if (plan.rewind !== 'none') {
            if (!rewindWeights) {
              throw new UnlearnError(
                'UNLEARN_CHECKPOINT_MISSING',
                `${plan.pruner}: the rewind weights (epoch ${String(plan.rewind)} of round 0) were not saved; delete ${checkpointDir ?? 'the checkpoint folder'} and run again.`,
                { details: { checkpointDir, rewind: plan.rewind } },
              );
            }
            // Model.load copies what it is given: rewindWeights stay ours for the next round.
            model.load(rewindWeights);
          }
          setMasksMerged(model, masks);
        } finally {
          for (const m of masks.values()) m.dispose();
        }
      }
      const epochs = k === 0 ? plan.firstEpochs : plan.laterEpochs;
      if (epochs > 0 && data) {
        const rewindEpoch = plan.rewind;
        const captureRewind = k === 0 && typeof rewindEpoch === 'number';
        const t = plan.training;
        await train(model, {
          data: data.train,
          epochs,
          batchSize: t.batchSize,
          lr: t.lr,
          momentum: t.momentum,
          weightDecay: t.weightDecay,
          schedule: t.schedule,
          warmupEpochs: t.warmupEpochs,
          scheduleOffset: k === 0 ? 0 : plan.laterScheduleOffset,
          augment: t.augment,
          microBatch: t.microBatch,
          evalEvery: t.evalEvery,
          evalSet: t.evalEvery > 0 ? evalSubset : undefined,
          label: `${plan.pruner} round ${k}`,
          checkpoint: files?.train(k),
          meta: { pruner: plan.pruner, round: k },
          services: { ...services, rng: services.rng.fork(`round-${k}`) },
          onEpochEnd: captureRewind
            ? async ({ epoch, model: m }) => {
                if (epoch + 1 !== rewindEpoch) return;
                setRewind(m.snapshot());
                if (files) await saveModel(files.rewind, m, { ...rewindMeta(), epoch: epoch + 1 }, PRUNE_REWIND_KIND);
              }
            : undefined,
        });
      }
      if (k === 0 && typeof plan.rewind === 'number' && plan.rounds > 1 && !rewindWeights) {
        throw new UnlearnError(
          'UNLEARN_CHECKPOINT_MISSING',
          `${plan.pruner}: round 0 resumed past epoch ${plan.rewind} but ${files?.rewind ?? 'rewind.ckpt'} is missing; delete ${files?.train(0) ?? 'the round-0 train checkpoint'} to redo round 0.`,
          { details: { checkpointDir, rewind: plan.rewind } },
        );
      }
      const accuracy = evalSubset ? evaluateAccuracy(model, evalSubset, { signal }) : undefined;
      const sparsity = sparsityReport(model);
      const round: PruneRound = { round: k, sparsity, seconds: (performance.now() - tk) / 1000 };
      if (accuracy !== undefined) round.accuracy = accuracy;
      if (files) {
        round.checkpoint = files.round(k);
        await writeFileAtomic(files.sparsity(k), `${JSON.stringify({ pruner: plan.pruner, ...round }, null, 2)}\n`);
        await saveModel(files.round(k), model, { pruner: plan.pruner, ...round, fingerprint: print }, PRUNE_ROUND_KIND);
        // The round checkpoint supersedes train's (which also holds momentum: as large again).
        await rm(files.train(k), { force: true });
      }
      rounds.push(round);
      const acc = accuracy === undefined ? '' : `, accuracy ${accuracy.toFixed(2)}%`;
      logger.info(`${plan.pruner} round ${k}/${plan.rounds - 1}${acc}: ${formatSparsity(sparsity, { layers: false })}`);
    }
  } finally {
    for (const t of rewindWeights?.values() ?? []) t.dispose();
  }
  const final = rounds[rounds.length - 1]?.sparsity ?? sparsityReport(model);
  return { pruner: plan.pruner, rounds, sparsity: final, seconds: (performance.now() - t0) / 1000 };
}
