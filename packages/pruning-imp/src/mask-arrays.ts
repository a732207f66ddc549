import * as tf from '@tensorflow/tfjs-core';
import { type Model, UnlearnError } from '@unlearnjs/core';

/**
 * Resolve and check the names of the weights to prune.
 *
 * @param model - the model
 * @param names - requested names; `undefined` means every prunable weight
 * @returns the names, in the model's prunable order (the tie-break order)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` on an empty list, a duplicate, or a name that is not prunable
 * @internal
 */
export function resolvePruneNames(model: Model, names: readonly string[] | undefined): string[] {
  if (names === undefined) return model.prunable.filter((n) => model.params.has(n));
  if (names.length === 0) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', 'names is empty; omit it to prune every prunable weight.', { details: { names } });
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `names lists "${n}" twice.`, { details: { name: n } });
    seen.add(n);
    if (!model.prunable.includes(n) || !model.params.has(n)) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `"${n}" is not a prunable weight of ${model.arch}; choose among: ${model.prunable.slice(0, 8).join(', ')}${model.prunable.length > 8 ? ', ...' : ''}.`,
        { details: { name: n, prunable: model.prunable } },
      );
    }
  }
  return model.prunable.filter((n) => seen.has(n));
}

/**
 * The alive flags of a weight: 1 where its current mask is non-zero (or everywhere when it has no mask).
 * @internal
 */
export function aliveOf(model: Model, name: string): Uint8Array {
  const size = model.params.get(name)?.size ?? 0;
  const alive = new Uint8Array(size);
  const mask = model.masks.get(name);
  if (!mask) return alive.fill(1);
  const m = mask.dataSync();
  for (let i = 0; i < size; i++) alive[i] = m[i] !== 0 ? 1 : 0;
  return alive;
}

/** Validate a pruning rate for the helper functions (the plugins validate with zod). @internal */
export function checkRate(rate: number, where: string): void {
  if (!(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `${where}: rate must be a number in [0, 1], got ${String(rate)}.`, {
      details: { rate },
    });
  }
}

/** 0/1 mask tensors from alive flags; the caller disposes them. @internal */
export function masksFromAlive(model: Model, alive: ReadonlyMap<string, Uint8Array>): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, a] of alive) {
    const shape = (model.params.get(name) as tf.Variable).shape;
    out.set(name, tf.tensor(Float32Array.from(a), shape, 'float32'));
  }
  return out;
}

/**
 * Set new masks for some weights, keeping the model's current masks of every other weight.
 *
 * @param model - changed in place (masks set and applied)
 * @param updates - name → new mask; the caller keeps ownership
 * @remarks `Model.setMasks` replaces every mask and disposes the old ones before copying the
 * new ones, so the masks kept are cloned first.
 * @internal
 */
export function setMasksMerged(model: Model, updates: ReadonlyMap<string, tf.Tensor>): void {
  const kept = new Map<string, tf.Tensor>();
  for (const [name, m] of model.masks) if (!updates.has(name)) kept.set(name, tf.clone(m));
  try {
    model.setMasks(new Map([...kept, ...updates]));
  } finally {
    for (const t of kept.values()) t.dispose();
  }
}
