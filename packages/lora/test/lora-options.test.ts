import { Model, Rng } from '@unlearnjs/core';
import { attachLora, compileTargetPattern, defaultLoraTargets, loraOptionsSchema, resolveLoraTargets } from '@unlearnjs/lora';
import { expectUnlearnError } from '@unlearnjs/testing';
import { describe, expect, it } from 'vitest';
import { fakeResnetDefinition, fakeVitDefinition, useCpu } from './helpers.js';

useCpu();

describe('LoRA options and targets', () => {
  it('defaults to the extension: rank 64, alpha 16, dropout 0.1, classifier trainable; mode auto', () => {
    expect(loraOptionsSchema.parse({})).toEqual({
      rank: 64,
      alpha: 16,
      dropout: 0.1,
      trainClassifier: true,
      init: 'kaiming-uniform',
      mode: 'auto',
    });
    expect(loraOptionsSchema.safeParse({ mode: 'fused' }).success).toBe(false);
  });

  it('globs match whole names with * spanning dots; /re/ strings are regular expressions', () => {
    const g = compileTargetPattern('*.conv1.kernel');
    expect(g('stage1.block0.conv1.kernel')).toBe(true);
    expect(g('stage1.block0.conv1.kernel.x')).toBe(false);
    expect(g('conv1.kernel')).toBe(false);
    expect(compileTargetPattern('fc.kernel')('fcxkernel')).toBe(false);
    const r = compileTargetPattern('/attn\\.(query|value)/i');
    expect(r('blocks.3.ATTN.value.kernel')).toBe(true);
    expect(r('blocks.3.attn.key.kernel')).toBe(false);
  });

  it('ResNet-18: adapts block conv1/conv2 (not stem or shortcut); fc only when the classifier is not trained', () => {
    const model = new Model(fakeResnetDefinition(), new Rng(0));
    const names = (o: object) => resolveLoraTargets(model, loraOptionsSchema.parse(o)).map((t) => t.weight);
    expect(names({})).toEqual([
      'stage1.block0.conv1.kernel',
      'stage1.block0.conv2.kernel',
      'stage2.block0.conv1.kernel',
      'stage2.block0.conv2.kernel',
    ]);
    expect(names({ trainClassifier: false })).toContain('fc.kernel');
    expect(names({ targets: ['stem.*', '*shortcut*'] })).toEqual(['stem.conv.kernel', 'stage2.block0.shortcut.conv.kernel']);
    const lora = attachLora(model, { rank: 2 }, new Rng(1));
    const convs = 2 * (36 + 4) + 2 * (36 + 4) + 2 * (36 + 8) + 2 * (72 + 8);
    expect(lora.trainableCount).toBe(convs + 8 * 10 + 10);
    lora.detach();
    model.dispose();
  });

  it('ViT: adapts query, value, attention out and MLP kernels of every block, not key or patch embedding', () => {
    const model = new Model(fakeVitDefinition(), new Rng(0));
    const targets = resolveLoraTargets(model, loraOptionsSchema.parse({ rank: 4 }));
    expect(targets.map((t) => [t.weight, t.rank])).toEqual([
      ['blocks.0.attn.query.kernel', 4],
      ['blocks.0.attn.value.kernel', 4],
      ['blocks.0.attn.out.kernel', 4],
      ['blocks.0.mlp.fc1.kernel', 4],
      ['blocks.0.mlp.fc2.kernel', 4],
    ]);
    expect(defaultLoraTargets('vit', 'head.kernel', model.prunable, false)).toContain('head.kernel');
    model.dispose();
  });
});

describe('LoRA options are strict', () => {
  it('refuses a misspelt option, naming it, instead of attaching with the defaults', async () => {
    const model = new Model(fakeVitDefinition(), new Rng(0));
    try {
      const err = await expectUnlearnError(() => attachLora(model, { rnak: 4 } as never, new Rng(0)), 'UNLEARN_INVALID_OPTIONS');
      expect(err.message).toContain('rnak');
      expect(model.extraParams.size).toBe(0);
    } finally {
      model.dispose();
    }
  });
});
