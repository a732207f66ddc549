import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Model,
  type ModelDefinition,
  Rng,
  isUnlearnError,
  loadModel,
  modelToCheckpoint,
  saveModel,
  writeCheckpoint,
} from '@unlearnjs/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tinyDefinition(): ModelDefinition {
  return {
    arch: 'tiny-masks',
    config: {},
    params: [
      { name: 'fc.kernel', shape: [3, 2], init: 'glorot-uniform' },
      { name: 'fc.bias', shape: [2], init: 'zeros' },
    ],
    buffers: [],
    prunable: ['fc.kernel'],
    classifier: { kernel: 'fc.kernel', bias: 'fc.bias' },
    forward: (x, ctx) =>
      tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], 3]), ctx.w('fc.kernel') as tf.Tensor2D), ctx.w('fc.bias')) as tf.Tensor2D),
  };
}

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('Model.setMasks', () => {
  it.each([
    ['0.5', 0.5],
    ['NaN', Number.NaN],
    ['Inf', Number.POSITIVE_INFINITY],
    ['-1', -1],
  ])('refuses a mask holding %s, naming it, and leaves weights and masks as they were', (_label, value) => {
    const model = new Model(tinyDefinition(), new Rng(1));
    const keep = tf.tensor2d([1, 0, 1, 1, 0, 1], [3, 2]);
    model.setMasks(new Map([['fc.kernel', keep]]));
    const before = Array.from(model.params.get('fc.kernel')?.dataSync() ?? []);
    const bad = tf.tensor2d([1, 1, value, 1, 1, 1], [3, 2]);
    const tensors = tf.memory().numTensors;
    const err = thrown(() => model.setMasks(new Map([['fc.kernel', bad]])));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(isUnlearnError(err, 'UNLEARN_MASK_MISMATCH'), String(err)).toBe(true);
    const e = err as { message: string; details: Record<string, unknown> };
    expect(e.details.name).toBe('fc.kernel');
    expect(e.details.index).toBe(2);
    expect(e.message).toContain('fc.kernel');
    expect(Array.from(model.params.get('fc.kernel')?.dataSync() ?? [])).toEqual(before);
    expect(Array.from(model.masks.get('fc.kernel')?.dataSync() ?? [])).toEqual([1, 0, 1, 1, 0, 1]);
    tf.dispose([keep, bad]);
    model.dispose();
  });

  it('accepts exact 0/1 masks in float32, int32 and bool, and zeroes the pruned weights', () => {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const model = new Model(tinyDefinition(), new Rng(1));
      const mask = tf.tensor2d([1, 0, 1, 1, 0, 1], [3, 2], dtype);
      const tensors = tf.memory().numTensors;
      model.setMasks(new Map([['fc.kernel', mask]]));
      expect(tf.memory().numTensors).toBe(tensors + 1); // the model's own copy
      const w = model.params.get('fc.kernel')?.dataSync() ?? [];
      expect(w[1] === 0 && w[4] === 0).toBe(true); // -0 is zero too
      expect(w[0]).not.toBe(0);
      mask.dispose();
      model.dispose();
    }
  });
});

describe('masks in a checkpoint', () => {
  it('that are valid load and reload without leaking tensors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-mask-ok-'));
    const f = join(dir, 'ok.ckpt');
    const model = new Model(tinyDefinition(), new Rng(1));
    const mask = tf.tensor2d([1, 0, 1, 1, 0, 1], [3, 2]);
    model.setMasks(new Map([['fc.kernel', mask]]));
    mask.dispose();
    await saveModel(f, model);
    const target = new Model(tinyDefinition(), new Rng(2));
    await loadModel(f, target);
    const tensors = tf.memory().numTensors;
    await loadModel(f, target); // replaces the mask it already has
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Array.from(target.masks.get('fc.kernel')?.dataSync() ?? [])).toEqual([1, 0, 1, 1, 0, 1]);
    expect(Array.from(target.params.get('fc.kernel')?.dataSync() ?? [])).toEqual(
      Array.from(model.params.get('fc.kernel')?.dataSync() ?? []),
    );
    model.dispose();
    target.dispose();
  });

  it('that are not exactly 0/1 are refused at load, naming the file and the mask', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-mask-ckpt-'));
    const f = join(dir, 'half.ckpt');
    const model = new Model(tinyDefinition(), new Rng(1));
    const ck = modelToCheckpoint(model);
    ck.groups.masks.set('fc.kernel', { shape: [3, 2], data: new Float32Array([1, 0.5, 1, 1, 0, 1]) });
    await writeCheckpoint(f, { kind: 'model', ...ck });

    const target = new Model(tinyDefinition(), new Rng(2));
    const before = Array.from(target.params.get('fc.kernel')?.dataSync() ?? []);
    const tensors = tf.memory().numTensors;
    const err = await loadModel(f, target).then(
      () => undefined,
      (e) => e,
    );
    expect(tf.memory().numTensors).toBe(tensors);
    expect(isUnlearnError(err, 'UNLEARN_MASK_MISMATCH'), String(err)).toBe(true);
    expect(err.details.file).toBe(f);
    expect(err.details.tensor).toBe('masks/fc.kernel');
    expect(err.message).toContain(f);
    expect(err.message).toContain('fc.kernel');
    expect(Array.from(target.params.get('fc.kernel')?.dataSync() ?? [])).toEqual(before);
    model.dispose();
    target.dispose();
  });

  it('that hold NaN are refused at load with a coded error naming the mask', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-mask-nan-'));
    const f = join(dir, 'nan.ckpt');
    const model = new Model(tinyDefinition(), new Rng(1));
    const ck = modelToCheckpoint(model);
    ck.groups.masks.set('fc.kernel', { shape: [3, 2], data: new Float32Array([1, Number.NaN, 1, 1, 0, 1]) });
    await writeCheckpoint(f, { kind: 'model', ...ck });
    const err = await loadModel(f, model).then(
      () => undefined,
      (e) => e,
    );
    // readCheckpoint refuses any non-finite stored value before the mask check sees it.
    expect(isUnlearnError(err, 'UNLEARN_NON_FINITE_WEIGHTS'), String(err)).toBe(true);
    expect(err.details.tensor).toBe('masks/fc.kernel');
    expect(err.message).toContain(f);
    model.dispose();
  });

  it('for a weight that is not prunable name the file too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-mask-name-'));
    const f = join(dir, 'bias-mask.ckpt');
    const model = new Model(tinyDefinition(), new Rng(1));
    const ck = modelToCheckpoint(model);
    ck.groups.masks.set('fc.bias', { shape: [2], data: new Float32Array([1, 0]) });
    await writeCheckpoint(f, { kind: 'model', ...ck });
    const err = await loadModel(f, model).then(
      () => undefined,
      (e) => e,
    );
    expect(isUnlearnError(err, 'UNLEARN_MASK_MISMATCH'), String(err)).toBe(true);
    expect(err.details.file).toBe(f);
    expect(err.message).toContain(f);
    model.dispose();
  });
});
