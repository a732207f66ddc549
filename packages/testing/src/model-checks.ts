import * as tf from '@tensorflow/tfjs-core';
import type { Model, Rng } from '@unlearnjs/core';
import { expect } from 'vitest';

/**
 * Plain copies of a model's state, comparable with `expect(a).toEqual(b)`.
 *
 * @remarks Values are read with `dataSync` into typed arrays: nothing to dispose.
 */
export interface ModelState {
  params: Record<string, Float32Array>;
  buffers: Record<string, Float32Array>;
  masks: Record<string, Float32Array>;
  extra: Record<string, Float32Array>;
}

function read(map: ReadonlyMap<string, tf.Tensor>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of map) out[name] = Float32Array.from(t.dataSync() as ArrayLike<number>);
  return out;
}

/**
 * Copy a model's parameters, buffers, masks and adapter parameters to plain arrays.
 *
 * @param model - the model (unchanged)
 * @returns a {@link ModelState}; no tensors are created that outlive the call
 */
export function modelState(model: Model): ModelState {
  return { params: read(model.params), buffers: read(model.buffers), masks: read(model.masks), extra: read(model.extraParams) };
}

/**
 * Set a random 0/1 mask on every prunable weight of a model.
 *
 * @param model - the model; its masks are replaced and applied (masked weights become 0)
 * @param rng - the randomness (same state, same masks)
 * @param keep - probability that a weight is kept @defaultValue 0.5
 * @returns the number of weights masked out; the masks' tensors are owned by the model
 */
export function setRandomMasks(model: Model, rng: Rng, keep = 0.5): number {
  const masks = new Map<string, tf.Tensor>();
  let pruned = 0;
  for (const name of model.prunable) {
    const weight = model.params.get(name);
    if (!weight) continue;
    const values = new Float32Array(weight.size);
    for (let i = 0; i < values.length; i++) {
      values[i] = rng.next() < keep ? 1 : 0;
      pruned += 1 - values[i];
    }
    masks.set(name, tf.tensor(values, weight.shape));
  }
  try {
    model.setMasks(masks);
  } finally {
    for (const m of masks.values()) m.dispose();
  }
  return pruned;
}

/**
 * Assert that every weight a mask removes is exactly zero (and that masks are 0/1).
 *
 * @param model - the model to check
 * @returns the number of masked weights checked
 * @throws the vitest assertion error listing the first offending weights
 */
export function expectMaskedWeightsZero(model: Model): number {
  const violations: string[] = [];
  let checked = 0;
  for (const [name, mask] of model.masks) {
    const weight = model.params.get(name);
    expect(weight, `mask "${name}" names no parameter`).toBeDefined();
    const w = (weight as tf.Variable).dataSync();
    const m = mask.dataSync();
    for (let i = 0; i < m.length; i++) {
      if (m[i] !== 0 && m[i] !== 1) violations.push(`${name}[${i}]: mask value ${m[i]} is not 0/1`);
      else if (m[i] === 0) {
        checked++;
        if (w[i] !== 0) violations.push(`${name}[${i}] = ${w[i]} but its mask is 0`);
      }
    }
  }
  expect(violations.slice(0, 10), `${violations.length} masked weights are not zero`).toEqual([]);
  return checked;
}
