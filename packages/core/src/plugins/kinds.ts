import type { z } from 'zod';
import type { DataSplits, Subset } from '../data/index.js';
import type { Model } from '../models/model.js';
import type { Rng } from '../random/rng.js';
import type { RunServices } from './services.js';

/** A zod schema whose output is `O` (the plugin's validated, defaulted options). */
export type OptionsSchema<O> = z.ZodType<O, any>;

/**
 * Builds models of one architecture: the `model` plugin kind.
 */
export interface ModelFactory<O = Record<string, unknown>> {
  /** Architecture id, e.g. `resnet18`. */
  readonly name: string;
  /** Validates and defaults the architecture options. */
  readonly optionsSchema: OptionsSchema<O>;
  /**
   * Build a freshly initialised model.
   * @param options - validated options
   * @param rng - initialisation randomness
   * @returns a model the caller owns (dispose it)
   */
  build(options: O, rng: Rng): Model;
}

/** Sparsity of one pruned weight. */
export interface LayerSparsity {
  name: string;
  /** Number of weights in the tensor. */
  size: number;
  /** Number of weights set to zero by the mask. */
  pruned: number;
  /** pruned / size. */
  sparsity: number;
}

/** Sparsity of a whole model: per prunable tensor and global (over all prunable weights). */
export interface SparsityReport {
  layers: LayerSparsity[];
  /** Pruned share over every prunable weight together. */
  global: number;
  /** Number of prunable weights. */
  total: number;
  /** Number of pruned weights. */
  pruned: number;
}

/** One round of a pruning procedure. */
export interface PruneRound {
  round: number;
  sparsity: SparsityReport;
  /** Test (or validation) accuracy after the round's training, in percent, when measured. */
  accuracy?: number;
  /** Path of the round's checkpoint, when written. */
  checkpoint?: string;
  seconds: number;
}

/** What a pruner returns. */
export interface PruneReport {
  pruner: string;
  rounds: PruneRound[];
  /** Final sparsity (also in the last round). */
  sparsity: SparsityReport;
  seconds: number;
}

/** Everything a pruner gets. */
export interface PruneContext<O> {
  /** The model to prune; masks are set on it in place. */
  model: Model;
  /** Data for the training rounds (train/validation/test). Data-free pruners ignore it. */
  data?: DataSplits;
  /** Validated options. */
  options: O;
  /** Folder for per-round checkpoints; a run killed mid-round resumes from it. */
  checkpointDir?: string;
  services: RunServices;
}

/**
 * Computes sparsity masks, and for procedures such as IMP also trains: the `pruner` kind.
 *
 * @remarks Masks are 0/1 tensors set with `model.setMasks`; after `prune` every masked
 * weight is exactly zero and stays so in any later training through core's trainer.
 */
export interface Pruner<O = unknown> {
  readonly name: string;
  readonly optionsSchema: OptionsSchema<O>;
  /**
   * Prune the model in place.
   * @param ctx - model, data, options, services
   * @returns per-round sparsity and accuracy
   */
  prune(ctx: PruneContext<O>): Promise<PruneReport>;
}

/** The data an unlearner sees. */
export interface UnlearnData {
  /** D_f: what to forget. */
  forget: Subset;
  /** D_r: what to keep. */
  retain: Subset;
  /** Held-out validation set, when there is one. */
  validation?: Subset;
  /** The class forgotten in class-wise forgetting, or -1 for random forgetting. */
  classToForget: number;
}

/** Everything an unlearner gets. */
export interface UnlearnContext<O> {
  /** The trained (possibly pruned) model, changed in place. Its masks must be respected. */
  model: Model;
  data: UnlearnData;
  /** Validated options. */
  options: O;
  services: RunServices;
}

/** One epoch of an iterative unlearner. */
export interface EpochLog {
  epoch: number;
  /** Mean training loss of the epoch. */
  loss: number;
  /** Learning rate used. */
  lr?: number;
  /** Accuracy on an evaluation set after the epoch, percent, when measured. */
  accuracy?: number;
  seconds: number;
}

/** What an unlearner returns. */
export interface UnlearnReport {
  method: string;
  /** Wall-clock seconds of the unlearning step (RTE). */
  seconds: number;
  /** Per-epoch logs for iterative methods; empty for one-shot ones. */
  epochs: EpochLog[];
  /** Method-specific statistics (e.g. Fisher variance summary, influence memory use). */
  extra: Record<string, unknown>;
}

/**
 * Removes the influence of a forget set from a model: the `unlearner` kind.
 */
export interface Unlearner<O = unknown> {
  readonly name: string;
  readonly optionsSchema: OptionsSchema<O>;
  /**
   * Unlearn in place.
   * @param ctx - model, data, options, services
   * @returns timing and per-epoch losses
   * @throws UnlearnError `UNLEARN_NON_FINITE_LOSS` when the loss diverges (the model is restored), `UNLEARN_ABORTED` on abort
   */
  unlearn(ctx: UnlearnContext<O>): Promise<UnlearnReport>;
}

/** An adapter attached to a model. */
export interface AttachedAdapter {
  /** Names of the variables the adapter added (trainable). */
  readonly parameterNames: readonly string[];
  /** Number of scalars that now train (adapter weights + unfrozen model weights). */
  readonly trainableCount: number;
  /** Fold the adapter update into the base weights (masked, so sparsity is kept) and detach. */
  merge(): void;
  /** Remove the adapter without changing the base weights, unfreezing what it froze. */
  detach(): void;
}

/**
 * Adds trainable structure to a frozen model (LoRA): the `adapter` kind.
 */
export interface Adapter<O = unknown> {
  readonly name: string;
  readonly optionsSchema: OptionsSchema<O>;
  /**
   * Attach to a model: freeze the base weights and add adapter parameters.
   * @param model - the model (load its checkpoint *before* attaching)
   * @param options - validated options
   * @param rng - initialisation randomness
   */
  attach(model: Model, options: O, rng: Rng): AttachedAdapter;
}

/** The data an evaluator sees. */
export interface EvalData {
  forget: Subset;
  retain: Subset;
  test: Subset;
  /** Test set without the forgotten class (class-wise); equals `test` otherwise. */
  testRetainClasses?: Subset;
  classToForget: number;
}

/** Everything an evaluator gets. */
export interface EvalContext<O> {
  model: Model;
  data: EvalData;
  options: O;
  services: RunServices;
}

/** What an evaluator returns. */
export interface EvalResult {
  evaluator: string;
  /** Named numbers, in percent where they are accuracies (e.g. `UA`, `RA`, `TA`, `MIA-efficacy`). */
  metrics: Record<string, number>;
  /** Anything further (per-class accuracy, confusion counts). */
  details?: Record<string, unknown>;
}

/**
 * Measures a model: the `evaluator` kind.
 */
export interface Evaluator<O = unknown> {
  readonly name: string;
  readonly optionsSchema: OptionsSchema<O>;
  /**
   * Evaluate without changing the model.
   * @param ctx - model, data, options, services
   */
  evaluate(ctx: EvalContext<O>): Promise<EvalResult>;
}
