import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, UnlearnError } from '@unlearnjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createTinyModel,
  expectMaskedWeightsZero,
  expectNoTensorLeak,
  expectUnlearnError,
  modelState,
  setRandomMasks,
} from '@unlearnjs/testing';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('expectNoTensorLeak', () => {
  it('passes when everything is disposed and returns the result', async () => {
    const r = await expectNoTensorLeak(async () => {
      return tf.tidy(() => tf.sum(tf.ones([3])).dataSync()[0]);
    });
    expect(r).toBe(3);
  });

  it('fails when a tensor outlives the call, naming the counts', async () => {
    let leaked: tf.Tensor | undefined;
    await expect(
      expectNoTensorLeak(() => {
        leaked = tf.zeros([2]);
      }),
    ).rejects.toThrow(/tensor leak: \d+ tensors before, \d+ after \(1 not disposed\)/);
    leaked?.dispose();
  });
});

describe('expectUnlearnError', () => {
  it('returns the error of the expected code, sync or async', async () => {
    const sync = await expectUnlearnError(() => {
      throw new UnlearnError('UNLEARN_MASK_MISMATCH', 'bad mask');
    }, 'UNLEARN_MASK_MISMATCH');
    expect(sync.message).toBe('bad mask');
    await expectUnlearnError(async () => {
      throw new UnlearnError('UNLEARN_ABORTED', 'stop');
    }, 'UNLEARN_ABORTED');
  });

  it('fails on success, on another code, and on a plain Error', async () => {
    await expect(expectUnlearnError(() => 1, 'UNLEARN_ABORTED')).rejects.toThrow(/the call succeeded/);
    await expect(
      expectUnlearnError(() => {
        throw new UnlearnError('UNLEARN_ABORTED', 'stop');
      }, 'UNLEARN_INVALID_OPTIONS'),
    ).rejects.toThrow(/got UNLEARN_ABORTED/);
    await expect(
      expectUnlearnError(() => {
        throw new TypeError('oops');
      }, 'UNLEARN_INVALID_OPTIONS'),
    ).rejects.toThrow(/got TypeError: oops/);
  });
});

describe('masks', () => {
  it('setRandomMasks masks about half of every prunable weight, the same for the same seed', () => {
    const a = createTinyModel(new Rng(0));
    const b = createTinyModel(new Rng(0));
    try {
      const pruned = setRandomMasks(a, new Rng(5));
      setRandomMasks(b, new Rng(5));
      const total = a.prunable.reduce((n, name) => n + (a.params.get(name) as tf.Variable).size, 0);
      expect(pruned / total).toBeGreaterThan(0.4);
      expect(pruned / total).toBeLessThan(0.6);
      expect(modelState(a)).toEqual(modelState(b));
      expect(expectMaskedWeightsZero(a)).toBe(pruned);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('expectMaskedWeightsZero fails when a masked weight is not zero', () => {
    const model = createTinyModel(new Rng(0));
    try {
      setRandomMasks(model, new Rng(1));
      const w = model.params.get('dense.kernel') as tf.Variable;
      // Undo the mask behind the model's back, as a buggy plugin would.
      tf.tidy(() => w.assign(tf.add(w, 1)));
      expect(() => expectMaskedWeightsZero(model)).toThrow(/masked weights are not zero/);
    } finally {
      model.dispose();
    }
  });
});
