import * as tf from '@tensorflow/tfjs-core';
import {
  type Model,
  type ProgressReporter,
  type PruneContext,
  type PruneReport,
  type Pruner,
  UnlearnError,
  ensureGradients,
  throwIfAborted,
} from '@unlearnjs/core';
import { z } from 'zod';
import { aliveOf, checkRate, masksFromAlive, resolvePruneNames, setMasksMerged } from './mask-arrays.js';
import { finishOneShot } from './one-shot-round.js';
import { type ScoredLayer, removeSmallest } from './select-smallest.js';

/** Options of {@link synflowScores}. */
export interface SynflowScoreOptions {
  /** The weights to score. @defaultValue every prunable weight */
  names?: readonly string[];
  /** Shape of one input image `[h, w, c]`. @defaultValue [32, 32, 3] (CIFAR) */
  inputShape?: readonly [number, number, number];
}

/** Options of {@link synflowMasks}. */
export interface SynflowMasksOptions extends SynflowScoreOptions {
  /** Share of the alive weights to remove, in [0, 1]. */
  rate: number;
  /** Score-and-prune iterations, with an exponential density schedule. @defaultValue 100 */
  iterations?: number;
  /** Stop request, checked between iterations. */
  signal?: AbortSignal;
  /** Progress of the iterations. */
  progress?: ProgressReporter;
}

/** Replace every parameter and buffer by its absolute value (the caller restores a snapshot). */
function linearize(model: Model): void {
  for (const v of [...model.params.values(), ...model.buffers.values()]) tf.tidy(() => v.assign(tf.abs(v)));
}

/** Scores of the current (linearized, masked) model; the model is not changed. */
function scoresOfLinearized(
  model: Model,
  names: readonly string[],
  inputShape: readonly [number, number, number],
): Map<string, Float32Array> {
  const vars = names.map((n) => model.params.get(n) as tf.Variable);
  const { value, grads } = tf.tidy(() => {
    const ones = tf.ones([1, inputShape[0], inputShape[1], inputShape[2]]) as tf.Tensor4D;
    const r = tf.variableGrads(() => tf.sum(model.forward(ones, { training: false })) as tf.Scalar, vars);
    const scores: Record<string, tf.Tensor> = {};
    for (const v of vars) scores[v.name] = tf.abs(tf.mul(r.grads[v.name], v));
    return { value: r.value, grads: scores };
  });
  try {
    const R = value.dataSync()[0];
    if (!Number.isFinite(R)) {
      throw new UnlearnError(
        'UNLEARN_NON_FINITE_SCORE',
        `SynFlow: the output of the network with |θ| weights is ${R} (float32 overflow); prune fewer layers, or use magnitude pruning (omp) for this model.`,
        { details: { R } },
      );
    }
    const out = new Map<string, Float32Array>();
    names.forEach((n, i) => {
      out.set(n, Float32Array.from(grads[vars[i].name].dataSync() as Float32Array));
    });
    return out;
  } finally {
    value.dispose();
    for (const t of Object.values(grads)) t.dispose();
  }
}

/**
 * SynFlow saliency |θ ⊙ ∂R/∂θ| of each chosen weight, where R is the sum of the outputs of the
 * network with every parameter and buffer replaced by its absolute value, on one all-ones image.
 *
 * @param model - the model; its weights are replaced by |θ| for the computation and restored
 *   exactly afterwards (masks included)
 * @param options - which weights, and the input shape
 * @returns name → scores in flat order (plain arrays; nothing to dispose). Masked weights score 0.
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for names that are not prunable;
 *   `UNLEARN_NON_FINITE_SCORE` when R overflows float32
 * @remarks BatchNorm runs in eval mode on |running statistics|, as the reference linearizes the
 * whole state dict. For a network without biases every layer's scores sum to R (synaptic
 * flow is conserved). Do not call it with an adapter attached: its transform would see |θ|.
 */
export function synflowScores(model: Model, options: SynflowScoreOptions = {}): Map<string, Float32Array> {
  ensureGradients();
  const names = resolvePruneNames(model, options.names);
  const snapshot = model.snapshot();
  try {
    linearize(model);
    return scoresOfLinearized(model, names, options.inputShape ?? [32, 32, 3]);
  } finally {
    model.load(snapshot);
    for (const t of snapshot.values()) t.dispose();
  }
}

/**
 * SynFlow masks (Tanaka et al., "Pruning neural networks without any data by iteratively
 * conserving synaptic flow", NeurIPS 2020): data-free iterative saliency pruning.
 *
 * @param model - the model; unchanged when the call returns or throws (its weights are
 *   linearized to |θ| during the call)
 * @param options - `rate` of the alive weights to remove, `iterations`, `names`, `inputShape`
 * @returns a new 0/1 mask per chosen weight; **the caller disposes the tensors**
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` (rate outside [0, 1], iterations < 1, names);
 *   `UNLEARN_NON_FINITE_SCORE` when R overflows float32; `UNLEARN_ABORTED`
 * @remarks At iteration i of n the alive weights are scored with {@link synflowScores} on the
 * currently masked |θ| and the lowest-scoring ones are removed so that
 * `round(alive₀ · (1 − (1 − rate)^(i/n)))` are gone; after the last one exactly
 * `round(rate · alive₀)` are, as for magnitude pruning (ties by layer order, then flat index).
 */
export function synflowMasks(model: Model, options: SynflowMasksOptions): Map<string, tf.Tensor> {
  checkRate(options.rate, 'synflowMasks');
  const iterations = options.iterations ?? 100;
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `synflowMasks: iterations must be an integer ≥ 1, got ${iterations}.`, {
      details: { iterations },
    });
  }
  ensureGradients();
  const names = resolvePruneNames(model, options.names);
  const inputShape = options.inputShape ?? [32, 32, 3];
  const layers: ScoredLayer[] = names.map((name) => ({ name, alive: aliveOf(model, name), scores: new Float32Array(0) }));
  let alive0 = 0;
  for (const l of layers) for (let i = 0; i < l.alive.length; i++) alive0 += l.alive[i];
  const originalMasks = new Map([...model.masks].map(([n, m]) => [n, tf.clone(m)]));
  const snapshot = model.snapshot();
  const task = options.progress?.start('synflow', iterations, 'it');
  let removed = 0;
  try {
    linearize(model);
    for (let i = 1; i <= iterations; i++) {
      throwIfAborted(options.signal);
      const scores = scoresOfLinearized(model, names, inputShape);
      for (const l of layers) l.scores = scores.get(l.name) as Float32Array;
      const target =
        i === iterations ? Math.round(options.rate * alive0) : Math.round(alive0 * (1 - (1 - options.rate) ** (i / iterations)));
      removed += removeSmallest(layers, target - removed);
      const masks = masksFromAlive(model, new Map(layers.map((l) => [l.name, l.alive])));
      try {
        setMasksMerged(model, masks); // zeroes the newly removed |θ|
      } finally {
        for (const m of masks.values()) m.dispose();
      }
      task?.tick(1);
    }
    task?.end();
    return masksFromAlive(model, new Map(layers.map((l) => [l.name, l.alive])));
  } finally {
    model.setMasks(originalMasks);
    model.load(snapshot);
    for (const t of [...snapshot.values(), ...originalMasks.values()]) t.dispose();
  }
}

/** Zod schema of the `synflow` pruner options. */
export const synflowOptionsSchema = z.strictObject({
  /** Share of the alive prunable weights removed, in (0, 1). @defaultValue 0.95 */
  rate: z.number().gt(0).lt(1).default(0.95),
  /** Score-and-prune iterations (the paper uses 100). @defaultValue 100 */
  iterations: z.number().int().min(1).max(10_000).default(100),
  /** Shape of one input image `[h, w, c]`. @defaultValue [32, 32, 3] */
  inputShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]).default([32, 32, 3]),
  /** The weights to prune. @defaultValue every prunable weight */
  names: z.array(z.string().min(1)).min(1).optional(),
});

/** Options of the `synflow` pruner as a user passes them. */
export type SynflowOptions = z.input<typeof synflowOptionsSchema>;
/** The validated `synflow` options. */
export type ResolvedSynflowOptions = z.output<typeof synflowOptionsSchema>;

/**
 * SynFlow pruning (data-free): masks from {@link synflowMasks}; the weights are kept (masked),
 * nothing is trained. Reported as round 1 (`round-1.ckpt`).
 */
export class SynflowPruner implements Pruner<ResolvedSynflowOptions> {
  readonly name = 'synflow';
  readonly optionsSchema = synflowOptionsSchema;

  /**
   * Prune `ctx.model` in place.
   * @param ctx - model, options, checkpoint folder, services; data is not used
   * @returns one round
   * @throws UnlearnError as {@link synflowMasks}
   */
  async prune(ctx: PruneContext<ResolvedSynflowOptions>): Promise<PruneReport> {
    const t0 = performance.now();
    const { signal, progress } = ctx.services;
    const masks = synflowMasks(ctx.model, { ...ctx.options, signal, progress });
    try {
      return await finishOneShot(ctx, this.name, masks, t0);
    } finally {
      for (const m of masks.values()) m.dispose();
    }
  }
}
