import type * as tf from '@tensorflow/tfjs-core';
import type { Model, PruneContext, PruneReport, Pruner, Rng } from '@unlearnjs/core';
import { z } from 'zod';
import { aliveOf, checkRate, masksFromAlive, resolvePruneNames } from './mask-arrays.js';
import { finishOneShot } from './one-shot-round.js';

/** Options of {@link randomMasks}. */
export interface RandomMasksOptions {
  /** Share of the alive weights to remove, in [0, 1]. */
  rate: number;
  /** The weights to draw from together. @defaultValue every prunable weight */
  names?: readonly string[];
}

/**
 * Random global unstructured masks: remove exactly `round(rate × alive)` alive weights chosen
 * uniformly over all the chosen layers together.
 *
 * @param model - the model (unchanged: reads its current masks)
 * @param rng - the randomness (same state, same masks)
 * @param options - `rate` and optionally `names`
 * @returns a new 0/1 mask per chosen weight; **the caller disposes the tensors**
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a rate outside [0, 1] or a name that is not prunable
 * @remarks The baseline of the reference (`--random_prune`, PyTorch `RandomUnstructured`
 * applied globally). The positions are a partial Fisher–Yates draw over the alive positions
 * in `model.prunable` order.
 */
export function randomMasks(model: Model, rng: Rng, options: RandomMasksOptions): Map<string, tf.Tensor> {
  checkRate(options.rate, 'randomMasks');
  const names = resolvePruneNames(model, options.names);
  const alive = new Map(names.map((n) => [n, aliveOf(model, n)]));
  const offsets: number[] = [];
  let total = 0;
  let aliveCount = 0;
  for (const a of alive.values()) {
    offsets.push(total);
    total += a.length;
    for (let i = 0; i < a.length; i++) aliveCount += a[i];
  }
  const positions = new Uint32Array(aliveCount);
  let j = 0;
  names.forEach((n, l) => {
    const a = alive.get(n) as Uint8Array;
    for (let i = 0; i < a.length; i++) if (a[i]) positions[j++] = offsets[l] + i;
  });
  const k = Math.round(options.rate * aliveCount);
  for (let i = 0; i < k; i++) {
    const r = i + rng.int(aliveCount - i);
    const tmp = positions[i];
    positions[i] = positions[r];
    positions[r] = tmp;
  }
  const removed = new Uint8Array(total);
  for (let i = 0; i < k; i++) removed[positions[i]] = 1;
  names.forEach((n, l) => {
    const a = alive.get(n) as Uint8Array;
    for (let i = 0; i < a.length; i++) if (removed[offsets[l] + i]) a[i] = 0;
  });
  return masksFromAlive(model, alive);
}

/** Zod schema of the `random` pruner options. */
export const randomPrunerOptionsSchema = z.strictObject({
  /** Share of the alive prunable weights removed, in (0, 1). @defaultValue 0.95 */
  rate: z.number().gt(0).lt(1).default(0.95),
  /** The weights to prune. @defaultValue every prunable weight */
  names: z.array(z.string().min(1)).min(1).optional(),
});

/** Options of the `random` pruner as a user passes them. */
export type RandomPrunerOptions = z.input<typeof randomPrunerOptionsSchema>;
/** The validated `random` pruner options. */
export type ResolvedRandomPrunerOptions = z.output<typeof randomPrunerOptionsSchema>;

/**
 * Random pruning (data-free): masks from {@link randomMasks} with the run's seeded randomness.
 * Trains nothing: the model keeps its weights, masked. Reported as round 1 (`round-1.ckpt`).
 */
export class RandomPruner implements Pruner<ResolvedRandomPrunerOptions> {
  readonly name = 'random';
  readonly optionsSchema = randomPrunerOptionsSchema;

  /**
   * Prune `ctx.model` in place.
   * @param ctx - model, options, checkpoint folder, services (`rng`); data is not used
   * @returns one round
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for `names` that are not prunable
   */
  async prune(ctx: PruneContext<ResolvedRandomPrunerOptions>): Promise<PruneReport> {
    const t0 = performance.now();
    const masks = randomMasks(ctx.model, ctx.services.rng.fork('random-masks'), ctx.options);
    try {
      return await finishOneShot(ctx, this.name, masks, t0);
    } finally {
      for (const m of masks.values()) m.dispose();
    }
  }
}
