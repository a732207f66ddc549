import * as tf from '@tensorflow/tfjs-core';
import { Rng, createContainer, createModel, registerCoreModels } from '@unlearnjs/core';
import { attachLora } from '@unlearnjs/lora';
import { describe, expect, it } from 'vitest';
import { batch, logits, maxAbsDiff, setSparseMasks, useCpu } from './helpers.js';

useCpu();

// Core's real architectures at tiny sizes: the default targets follow their parameter names,
// and attach (= base) and merge (= adapted, sparsity kept) hold through their forward passes.
describe('LoRA on core models', () => {
  const container = createContainer({ seed: 0, use: [registerCoreModels] });

  for (const [arch, options, expectedTargets] of [
    ['resnet18', { width: 4 }, 16],
    ['vit', { dim: 8, depth: 2, heads: 2, mlpDim: 16, patchSize: 8 }, 10],
  ] as const) {
    it(`${arch}: default targets, identity at attach, merge keeps outputs and masks`, () => {
      const model = createModel(container, arch, options);
      setSparseMasks(model, 0.9, new Rng(3));
      const { x, y } = batch(1, 2);
      const base = logits(model, x);
      const lora = attachLora(model, { rank: 2 }, new Rng(1));
      expect(lora.targets.length).toBe(expectedTargets);
      expect(lora.targets.some((t) => t.weight === model.classifier.kernel)).toBe(false);
      expect(logits(model, x)).toEqual(base);
      const rng = new Rng(2);
      for (const t of lora.targets) {
        const b = model.extraParams.get(t.b) as tf.Variable;
        tf.tidy(() => b.assign(tf.tensor(rng.normalArray(b.size, 0, 0.2), b.shape)));
      }
      const adapted = logits(model, x);
      expect(maxAbsDiff(adapted, base)).toBeGreaterThan(0);
      lora.merge();
      expect(maxAbsDiff(logits(model, x), adapted)).toBeLessThan(1e-4 * Math.max(1, ...adapted.map(Math.abs)));
      for (const [name, mask] of model.masks) {
        const w = model.params.get(name)?.dataSync() as Float32Array;
        const m = mask.dataSync();
        expect(
          w.every((v, i) => m[i] === 1 || v === 0),
          name,
        ).toBe(true);
      }
      tf.dispose([x, y]);
      model.dispose();
    });
  }
});
