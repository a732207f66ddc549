import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type CheckpointData, Rng, isUnlearnError, loadModelFromCheckpoint, readCheckpoint, saveModel } from '@unlearnjs/core';
import { attachLora, loadLoraState } from '@unlearnjs/lora';
import { createTinyModel } from '@unlearnjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batch, logits, setSparseMasks, sgdStep, useCpu } from './helpers.js';

useCpu();

describe('loadLoraState', () => {
  let dir: string;
  let data: CheckpointData;
  let saved: Float32Array;
  const options = { rank: 3, alpha: 8 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unlearnjs-lora-'));
    const model = createTinyModel(new Rng(0), { hidden: 8 });
    setSparseMasks(model, 0.5, new Rng(4));
    const lora = attachLora(model, options, new Rng(1));
    const { x, y } = batch(1);
    sgdStep(model, x, y);
    const b = model.extraParams.get('lora.hidden.kernel.B') as tf.Variable;
    expect(tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0])).toBeGreaterThan(0);
    saved = logits(model, x);
    await saveModel(join(dir, 'lora.ckpt'), model, { lora: lora.options });
    data = await readCheckpoint(join(dir, 'lora.ckpt'));
    x.dispose();
    y.dispose();
    model.dispose();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('saves A and B in the adapter group and restores identical outputs', () => {
    expect([...(data.groups.adapter?.keys() ?? [])].sort()).toEqual(
      ['lora.conv.kernel.A', 'lora.conv.kernel.B', 'lora.hidden.kernel.A', 'lora.hidden.kernel.B'].sort(),
    );
    // Another seed: different initial weights and adapter, all overwritten by the checkpoint.
    const model = createTinyModel(new Rng(77), { hidden: 8 });
    loadModelFromCheckpoint(model, data);
    attachLora(model, data.meta.lora as typeof options, new Rng(78));
    expect(loadLoraState(model, data).sort()).toEqual([...(data.groups.adapter?.keys() ?? [])].sort());
    const { x, y } = batch(1);
    expect(logits(model, x)).toEqual(saved);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('refuses a model without LoRA or with another rank, loading nothing', () => {
    const model = createTinyModel(new Rng(5), { hidden: 8 });
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return isUnlearnError(err) ? err.code : 'other';
      }
      return undefined;
    };
    expect(codeOf(() => loadLoraState(model, data))).toBe('UNLEARN_CHECKPOINT_INCOMPATIBLE');
    const lora = attachLora(model, { rank: 2 }, new Rng(1));
    const a = Float32Array.from(model.extraParams.get('lora.conv.kernel.A')?.dataSync() ?? []);
    expect(codeOf(() => loadLoraState(model, data))).toBe('UNLEARN_CHECKPOINT_INCOMPATIBLE');
    expect(model.extraParams.get('lora.conv.kernel.A')?.dataSync()).toEqual(a);
    lora.detach();
    attachLora(model, { rank: 3, targets: ['conv.kernel'] }, new Rng(1));
    expect(codeOf(() => loadLoraState(model, data))).toBe('UNLEARN_CHECKPOINT_INCOMPATIBLE');
    model.dispose();
  });
});
