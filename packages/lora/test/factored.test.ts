import * as tf from '@tensorflow/tfjs-core';
import { type Model, Rng, createContainer, createModel, isUnlearnError, registerCoreModels } from '@unlearnjs/core';
import { type AttachedLora, type LoraOptionsInput, attachLora } from '@unlearnjs/lora';
import { createTinyModel, expectNoTensorLeak } from '@unlearnjs/testing';
import { describe, expect, it } from 'vitest';
import { batch, countZeros, logits, maxAbsDiff, read, setSparseMasks, sgdStep, useCpu } from './helpers.js';

useCpu();

// Factored LoRA, op(x, W) + (α/r)·op(x, A_k)·B, must compute exactly what the weight-space
// form op(x, W + (α/r)·A·B) computes, values and gradients, on core's real architectures.
const container = createContainer({ seed: 0, use: [registerCoreModels] });
const ARCHS = [
  ['resnet18', { width: 4 }],
  ['vit', { dim: 8, depth: 2, heads: 2, mlpDim: 16, patchSize: 8 }],
] as const;
// Every conv/dense kernel, the classifier included (trainClassifier false): stride-1 and
// stride-2 3×3 convs, 1×1 stride-2 shortcuts, the stem, fc; every ViT dense.
const ALL: LoraOptionsInput = { rank: 3, alpha: 5, targets: ['*.kernel'], trainClassifier: false, dropout: 0 };

/** Give B random values (as training would), so that ΔW ≠ 0. */
function setB(m: Model, lora: AttachedLora, seed: number): void {
  const rng = new Rng(seed);
  for (const t of lora.targets) {
    const b = m.extraParams.get(t.b) as tf.Variable;
    tf.tidy(() => b.assign(tf.tensor(rng.normalArray(b.size, 0, 0.2), b.shape)));
  }
}

function scaleOf(values: Float32Array): number {
  let m = 1;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/** Gradients of the training-mode loss w.r.t. every A and B (BatchNorm buffers restored after). */
function adapterGrads(m: Model, lora: AttachedLora, x: tf.Tensor4D, y: tf.Tensor1D, seed: number): Map<string, Float32Array> {
  const buffers = new Map([...m.buffers].map(([n, v]) => [n, tf.clone(v)]));
  const names = lora.parameterNames;
  const vars = names.map((n) => m.extraParams.get(n) as tf.Variable);
  const rng = new Rng(seed);
  const { value, grads } = tf.variableGrads(() => {
    const out = m.forward(x, { training: true, rng });
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.cast(y, 'int32'), out.shape[1]), tf.logSoftmax(out)), 1))) as tf.Scalar;
  }, vars);
  const result = new Map(names.map((n, i) => [n, Float32Array.from(grads[vars[i].name].dataSync())]));
  value.dispose();
  tf.dispose(Object.values(grads));
  m.load(buffers);
  tf.dispose([...buffers.values()]);
  return result;
}

describe('factored LoRA', () => {
  for (const [arch, options] of ARCHS) {
    it(`${arch}: same outputs and A/B gradients as the weight-space form (dropout off and on)`, () => {
      const model = createModel(container, arch, options);
      const { x, y } = batch(1, 3);
      for (const dropout of [0, 0.5]) {
        const run = (mode: 'weight' | 'factored') => {
          const lora = attachLora(model, { ...ALL, dropout, mode }, new Rng(1));
          setB(model, lora, 2);
          const out = logits(model, x);
          const grads = adapterGrads(model, lora, x, y, 3);
          const modes = new Set(lora.targets.map((t) => t.mode));
          lora.detach();
          return { out, grads, modes, targets: lora.targets };
        };
        const w = run('weight');
        const f = run('factored');
        expect([...w.modes]).toEqual(['weight']);
        expect([...f.modes]).toEqual(['factored']);
        expect(maxAbsDiff(f.out, w.out)).toBeLessThan(1e-5 * scaleOf(w.out));
        // The weight-space update changes the outputs, so the comparison is not vacuous.
        expect(maxAbsDiff(w.out, logits(model, x))).toBeGreaterThan(1e-3);
        for (const [name, g] of w.grads) {
          const gf = f.grads.get(name) as Float32Array;
          expect(maxAbsDiff(g, new Float32Array(g.length)), name).toBeGreaterThan(0);
          expect(maxAbsDiff(gf, g), `${name} dropout ${dropout}`).toBeLessThan(1e-5 * scaleOf(g));
        }
        if (arch === 'resnet18') {
          const names = f.targets.map((t) => t.weight);
          // stride 1 (3×3), stride 2 (3×3 and the 1×1 shortcut), and the dense classifier
          for (const n of [
            'stem.conv.kernel',
            'stage1.block0.conv1.kernel',
            'stage2.block0.conv1.kernel',
            'stage2.block0.shortcut.conv.kernel',
            'fc.kernel',
          ]) {
            expect(names).toContain(n);
          }
        } else {
          expect(f.targets.map((t) => t.weight)).toEqual(
            expect.arrayContaining(['patchEmbed.kernel', 'blocks.0.attn.key.kernel', 'head.kernel']),
          );
        }
      }
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  it('never computes a gradient for the frozen base kernels, and a step changes only A, B', () => {
    const model = createModel(container, 'resnet18', { width: 4 });
    const lora = attachLora(model, { rank: 2, targets: ['stage2.*.conv1.kernel'], trainClassifier: false, dropout: 0 }, new Rng(1));
    const { x, y } = batch(4, 2);
    const params0 = read(model.params);
    sgdStep(model, x, y);
    sgdStep(model, x, y);
    expect(read(model.params)).toEqual(params0);
    for (const n of lora.parameterNames) expect(model.trainableVariables().has(n)).toBe(true);
    expect([...model.trainableVariables().keys()].every((n) => n.startsWith('lora.'))).toBe(true);
    lora.detach();
    tf.dispose([x, y]);
    model.dispose();
  });

  it('skips the full-size kernel gradients: conv filter gradients only for A, no ∂/∂W for dense', async () => {
    const model = createModel(container, 'resnet18', { width: 4 });
    const { x, y } = batch(8, 2);
    /** Output channels of every conv filter gradient one training step computes. */
    const filterGrads = async (): Promise<number[]> => {
      const info = await tf.profile(() => sgdStep(model, x, y));
      return info.kernels.filter((k) => k.name === 'Conv2DBackpropFilter').map((k) => k.outputShapes[0]?.at(-1) as number);
    };
    const ft = await filterGrads(); // every conv kernel trains
    const weight = attachLora(model, { rank: 2, targets: ['stage2.*.kernel'], mode: 'weight' }, new Rng(1));
    const inWeightSpace = await filterGrads();
    weight.detach();
    const factored = attachLora(model, { rank: 2, targets: ['stage2.*.kernel'], mode: 'factored' }, new Rng(1));
    const inFactored = await filterGrads();
    factored.detach();
    expect(ft.length).toBe(model.linearWeights.length - 1);
    // Weight space: each of the 5 adapted stage-2 kernels still gets its full-size (8-channel) filter gradient.
    expect(inWeightSpace).toEqual([8, 8, 8, 8, 8]);
    // Factored: one rank-2 filter gradient per adapted kernel (for A_k); none for W.
    expect(inFactored).toEqual([2, 2, 2, 2, 2]);
    // Dense: a factored target's frozen kernel gets no gradient at all, even when asked for.
    const vit = createModel(container, 'vit', ARCHS[1][1]);
    const lora = attachLora(vit, { rank: 2, targets: ['blocks.0.mlp.fc1.kernel'], dropout: 0 }, new Rng(1));
    const w = vit.params.get('blocks.0.mlp.fc1.kernel') as tf.Variable;
    const a = vit.extraParams.get(lora.targets[0].a) as tf.Variable;
    const { value, grads } = tf.variableGrads(() => tf.sum(vit.forward(x)) as tf.Scalar, [w, a]);
    expect(Object.keys(grads)).toEqual([a.name]);
    value.dispose();
    tf.dispose(Object.values(grads));
    lora.detach();
    vit.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });

  it("'auto' uses weight space for masked targets and factored for the others", () => {
    const model = createModel(container, 'resnet18', { width: 4 });
    setSparseMasks(model, 0.5, new Rng(3)); // every conv kernel is masked; fc is not
    const lora = attachLora(model, { rank: 2, targets: ['*.conv1.kernel', 'fc.kernel'], trainClassifier: false }, new Rng(1));
    expect(lora.options.mode).toBe('auto');
    for (const t of lora.targets) expect(t.mode, t.weight).toBe(t.weight === 'fc.kernel' ? 'factored' : 'weight');
    lora.detach();
    model.clearMasks();
    const dense = attachLora(model, { rank: 2 }, new Rng(1));
    expect(dense.targets.every((t) => t.mode === 'factored')).toBe(true);
    dense.detach();
    model.dispose();
  });

  it("'auto' falls back to weight space for layers not computed through ctx.linear", () => {
    const model = createTinyModel(new Rng(0), { hidden: 8 });
    const lora = attachLora(model, { rank: 2 }, new Rng(1));
    expect(lora.targets.every((t) => t.mode === 'weight')).toBe(true);
    lora.detach();
    model.dispose();
  });

  it("'factored' rejects masked targets and layers outside ctx.linear with UNLEARN_INVALID_OPTIONS, changing nothing", () => {
    const resnet = createModel(container, 'resnet18', { width: 4 });
    setSparseMasks(resnet, 0.5, new Rng(3));
    const tiny = createTinyModel(new Rng(0), { hidden: 8 });
    for (const [m, hint] of [
      [resnet, /pruning mask/],
      [tiny, /ctx\.linear/],
    ] as const) {
      let caught: unknown;
      try {
        attachLora(m, { rank: 2, mode: 'factored' }, new Rng(1));
      } catch (err) {
        caught = err;
      }
      expect(isUnlearnError(caught, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
      expect((caught as Error).message).toMatch(hint);
      expect(m.extraParams.size).toBe(0);
      for (const n of m.params.keys()) expect(m.isFrozen(n)).toBe(false);
    }
    resnet.dispose();
    tiny.dispose();
  });

  it('merge folds the factored update into W (outputs kept), detach restores W exactly', () => {
    for (const [arch, options] of ARCHS) {
      const model = createModel(container, arch, options);
      const { x, y } = batch(5, 2);
      const base = logits(model, x);
      const params0 = read(model.params);
      const first = attachLora(model, { ...ALL, mode: 'factored' }, new Rng(1));
      setB(model, first, 6);
      expect(maxAbsDiff(logits(model, x), base)).toBeGreaterThan(1e-3);
      first.detach();
      expect(read(model.params)).toEqual(params0);
      expect(logits(model, x)).toEqual(base);
      const lora = attachLora(model, { ...ALL, mode: 'factored' }, new Rng(1));
      setB(model, lora, 6);
      const adapted = logits(model, x);
      lora.merge();
      expect(maxAbsDiff(logits(model, x), adapted), arch).toBeLessThan(1e-5 * scaleOf(adapted));
      expect(model.extraParams.size).toBe(0);
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('a mask set after a factored attach is honoured: training and merge keep pruned weights at zero', () => {
    const model = createModel(container, 'resnet18', { width: 4 });
    const lora = attachLora(model, { rank: 2, dropout: 0 }, new Rng(1));
    expect(lora.targets.every((t) => t.mode === 'factored')).toBe(true);
    const zeros = setSparseMasks(model, 0.9, new Rng(4));
    const { x, y } = batch(6, 2);
    sgdStep(model, x, y);
    sgdStep(model, x, y);
    setB(model, lora, 7);
    const adapted = logits(model, x);
    lora.merge();
    expect(maxAbsDiff(logits(model, x), adapted)).toBeLessThan(1e-5 * scaleOf(adapted));
    expect(countZeros(model).zeros).toBe(zeros);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('leaks no tensors through factored attach, training, merge and dispose', async () => {
    const { x, y } = batch(7, 2);
    await expectNoTensorLeak(() => {
      const m = createModel(container, 'vit', ARCHS[1][1]);
      const lora = attachLora(m, { rank: 2, dropout: 0.2, mode: 'factored' }, new Rng(1));
      logits(m, x);
      sgdStep(m, x, y);
      lora.merge();
      m.dispose();
    });
    tf.dispose([x, y]);
  });
});
