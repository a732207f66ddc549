import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's entry point registers no gradients (the union package @tensorflow/tfjs does).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Model, Rng, createContainer, createModel, isUnlearnError, listPlugins } from '@unlearnjs/core';
// The model plugins are not re-exported from the package root yet; import them from source.
import { CIFAR10_MEAN, normalizeCifar, registerCoreModels, resnet18Definition } from '@unlearnjs/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Parameter count of the CIFAR ResNet-18 worked out by hand (BN gamma/beta included). */
function expectedResNet18Params(w: number, classes: number): number {
  // stem conv 27w + BN 2w; stage 1: 36w² + 8w; stage 2: 128w² + 20w; stage 3: 512w² + 40w;
  // stage 4: 2048w² + 80w (each with its 1×1 projection and BN); fc 8w·classes + classes.
  return 2724 * w * w + 177 * w + 8 * w * classes + classes;
}

function build(width: number, seed = 1, numClasses?: number): Model {
  const c = createContainer({ seed, use: [registerCoreModels] });
  return createModel(c, 'resnet18', numClasses === undefined ? { width } : { width, numClasses });
}

function images(n: number, seed: number, size = 32): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(n * size * size * 3, 0, 1), [n, size, size, 3]);
}

describe('resnet18 structure', () => {
  it('has exactly 11,173,962 parameters at width 64 and the hand-derived count at other widths', () => {
    const count = (w: number, c = 10) =>
      resnet18Definition({ width: w, numClasses: c }).params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(count(64)).toBe(11_173_962);
    expect(expectedResNet18Params(64, 10)).toBe(11_173_962);
    for (const [w, c] of [
      [4, 10],
      [16, 10],
      [32, 100],
    ])
      expect(count(w, c)).toBe(expectedResNet18Params(w, c));
    const m = build(4);
    expect(m.numParams()).toBe(expectedResNet18Params(4, 10));
    m.dispose();
  });

  it('names, shapes, buffers, prunable convs and classifier', () => {
    const w = 8;
    const m = build(w);
    const shape = (n: string) => m.params.get(n)?.shape;
    expect(shape('stem.conv.kernel')).toEqual([3, 3, 3, w]);
    expect(shape('stage1.block0.conv1.kernel')).toEqual([3, 3, w, w]);
    expect(shape('stage2.block0.conv1.kernel')).toEqual([3, 3, w, 2 * w]);
    expect(shape('stage2.block0.shortcut.conv.kernel')).toEqual([1, 1, w, 2 * w]);
    expect(shape('stage4.block1.conv2.kernel')).toEqual([3, 3, 8 * w, 8 * w]);
    expect(shape('stage3.block1.bn2.gamma')).toEqual([4 * w]);
    expect(shape('fc.kernel')).toEqual([8 * w, 10]);
    expect(shape('fc.bias')).toEqual([10]);
    expect(m.params.has('stage1.block0.shortcut.conv.kernel')).toBe(false);
    // 1 stem + 16 block convs + 3 projections; each followed by a BN with two buffers.
    const convs = [...m.params.keys()].filter((n) => n.endsWith('conv.kernel') || /conv\d\.kernel$/.test(n));
    expect(convs).toHaveLength(20);
    expect([...m.prunable].sort()).toEqual(convs.sort());
    expect(m.buffers.size).toBe(40);
    expect(m.buffers.get('stage2.block0.shortcut.bn.runningVar')?.shape).toEqual([2 * w]);
    expect(m.classifier).toEqual({ kernel: 'fc.kernel', bias: 'fc.bias' });
    expect(m.arch).toBe('resnet18');
    expect(m.config).toEqual({ width: w, numClasses: 10 });
    m.dispose();
  });

  it('initialises convs He-normal (fan-in) and the classifier uniform within 1/sqrt(in)', () => {
    const m = build(16);
    const k = m.params.get('stage4.block1.conv2.kernel') as tf.Variable;
    const v = k.dataSync();
    let s = 0;
    for (const x of v) s += x * x;
    const std = Math.sqrt(s / v.length);
    const want = Math.sqrt(2 / (9 * 128));
    // ~147k samples: the relative sd of the estimate is ~0.2%.
    expect(Math.abs(std / want - 1)).toBeLessThan(0.02);
    const bound = 1 / Math.sqrt(128);
    for (const n of ['fc.kernel', 'fc.bias'])
      for (const x of (m.params.get(n) as tf.Variable).dataSync()) expect(Math.abs(x)).toBeLessThanOrEqual(bound);
    expect(Array.from((m.params.get('stem.bn.gamma') as tf.Variable).dataSync()).every((x) => x === 1)).toBe(true);
    m.dispose();
  });

  it('rejects bad options with UNLEARN_INVALID_OPTIONS naming the field', () => {
    const c = createContainer({ seed: 0, use: [registerCoreModels] });
    for (const bad of [{ width: 3 }, { width: 513 }, { width: 4.5 }, { numClasses: 1 }]) {
      let err: unknown;
      try {
        createModel(c, 'resnet18', bad);
      } catch (e) {
        err = e;
      }
      expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
      expect((err as Error).message).toContain(Object.keys(bad)[0]);
    }
  });

  it('is registered with its sibling by registerCoreModels', () => {
    const c = createContainer({ use: [registerCoreModels] });
    expect(listPlugins(c, 'model').map((p) => p.name)).toEqual(['resnet18', 'vit']);
    registerCoreModels(c); // the same descriptors again: a no-op
    expect(listPlugins(c, 'model')).toHaveLength(2);
  });
});

describe('resnet18 forward', () => {
  it('gives [n, classes] logits and frees every intermediate', () => {
    const before0 = tf.memory().numTensors;
    const m = build(4, 1, 7);
    const x = images(3, 2);
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => m.forward(x));
    expect(y.shape).toEqual([3, 7]);
    expect(tf.memory().numTensors).toBe(before + 1);
    y.dispose();
    tf.tidy(() => {
      m.forward(x, { training: true });
    });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(before0);
  });

  it('same seed, same weights and outputs; another seed, different ones', () => {
    const a = build(4, 5);
    const b = build(4, 5);
    const c = build(4, 6);
    for (const [n, v] of a.params) expect(Array.from(v.dataSync())).toEqual(Array.from((b.params.get(n) as tf.Variable).dataSync()));
    const x = images(2, 3);
    const [ya, yb, yc] = [a, b, c].map((m) => tf.tidy(() => m.forward(x)));
    expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
    expect(Array.from(ya.dataSync())).not.toEqual(Array.from(yc.dataSync()));
    expect(Array.from((a.params.get('stem.conv.kernel') as tf.Variable).dataSync())).not.toEqual(
      Array.from((c.params.get('stem.conv.kernel') as tf.Variable).dataSync()),
    );
    tf.dispose([x, ya, yb, yc]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('normalises inside: an image equal to the channel mean yields exactly fc.bias at init', () => {
    // Normalised to zero, every conv output is zero; eval-mode BN at init (running mean 0,
    // beta 0) keeps it zero, so only the classifier bias is left.
    const m = build(4);
    const x = tf.tidy(() => tf.mul(tf.ones([2, 32, 32, 3]), tf.tensor1d([...CIFAR10_MEAN])) as tf.Tensor4D);
    const y = tf.tidy(() => m.forward(x));
    const bias = (m.params.get('fc.bias') as tf.Variable).dataSync();
    const yv = y.arraySync();
    for (const row of yv) for (const [i, v] of row.entries()) expect(v).toBeCloseTo(bias[i], 5);
    tf.dispose([x, y]);
    m.dispose();
  });

  it('eval mode leaves the buffers; training mode moves the stem running stats by exactly 0.1 toward the batch', () => {
    const m = build(4);
    const x = images(2, 8);
    const snap = (n: string) => Array.from((m.buffers.get(n) as tf.Variable).dataSync());
    const all = () => [...m.buffers.keys()].map(snap);
    const initial = all();
    tf.dispose(tf.tidy(() => m.forward(x)));
    expect(all()).toEqual(initial);
    // Batch statistics of the stem conv output, computed independently.
    const [bm, bv] = tf.tidy(() => {
      const h = tf.conv2d(normalizeCifar(x), m.params.get('stem.conv.kernel') as tf.Tensor4D, 1, 'same');
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      return [mean, variance];
    });
    const nhw = 2 * 32 * 32;
    tf.dispose(tf.tidy(() => m.forward(x, { training: true })));
    const rm = snap('stem.bn.runningMean');
    const rv = snap('stem.bn.runningVar');
    const bmv = bm.dataSync();
    const bvv = bv.dataSync();
    for (let i = 0; i < 4; i++) {
      expect(rm[i]).toBeCloseTo(0.9 * 0 + 0.1 * bmv[i], 5);
      expect(rv[i]).toBeCloseTo(0.9 * 1 + 0.1 * bvv[i] * (nhw / (nhw - 1)), 4);
    }
    expect(snap('stage4.block1.bn2.runningMean')).not.toEqual(initial[[...m.buffers.keys()].indexOf('stage4.block1.bn2.runningMean')]);
    tf.dispose([x, bm, bv]);
    m.dispose();
  });

  it('with masks set, computes the same as a model whose weights were zeroed by hand', () => {
    const a = build(4, 3);
    const b = build(4, 3);
    const rng = new Rng(10);
    const masks = new Map<string, tf.Tensor>();
    for (const n of ['stem.conv.kernel', 'stage2.block0.conv1.kernel', 'stage3.block0.shortcut.conv.kernel']) {
      const p = a.params.get(n) as tf.Variable;
      const u = rng.uniformArray(p.size, 0, 1);
      masks.set(
        n,
        tf.tensor(
          u.map((v) => (v < 0.5 ? 0 : 1)),
          p.shape,
        ),
      );
    }
    a.setMasks(masks);
    for (const [n, mk] of masks) {
      const p = b.params.get(n) as tf.Variable;
      tf.tidy(() =>
        p.assign(
          tf.tensor(
            p.dataSync().map((v, i) => (mk.dataSync()[i] === 0 ? 0 : v)),
            p.shape,
          ),
        ),
      );
    }
    const x = images(2, 4);
    const ya = tf.tidy(() => a.forward(x));
    const yb = tf.tidy(() => b.forward(x));
    const av = ya.dataSync();
    const bv = yb.dataSync();
    for (let i = 0; i < av.length; i++) expect(av[i]).toBeCloseTo(bv[i], 5);
    tf.dispose([x, ya, yb, ...masks.values()]);
    a.dispose();
    b.dispose();
  });
});

/**
 * Central-difference check of the directional derivative of L = Σ probe ⊙ logits along a random
 * unit direction, for each named weight.
 */
function gradCheck(m: Model, x: tf.Tensor4D, names: string[], training: boolean, eps: number, rtol: number): void {
  const [n] = x.shape;
  const probe = tf.tensor2d(new Rng(77).normalArray(n * 10), [n, 10]);
  const loss = () => tf.sum(tf.mul(m.forward(x, { training }), probe)) as tf.Scalar;
  const vars = names.map((nm) => m.params.get(nm) as tf.Variable);
  const { value, grads } = tf.variableGrads(loss, vars);
  value.dispose();
  const rng = new Rng(5);
  for (const [i, v] of vars.entries()) {
    const dirRaw = rng.normalArray(v.size);
    const norm = Math.sqrt(dirRaw.reduce((s, d) => s + d * d, 0));
    const dir = tf.tensor(
      dirRaw.map((d) => d / norm),
      v.shape,
    );
    const analytic = tf.tidy(() => tf.sum(tf.mul(grads[v.name], dir)).dataSync()[0]);
    const orig = tf.clone(v);
    const at = (s: number) => {
      tf.tidy(() => v.assign(tf.add(orig, tf.mul(dir, s))));
      return tf.tidy(() => loss().dataSync()[0]);
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    v.assign(orig);
    tf.dispose([orig, dir]);
    const scale = Math.max(Math.abs(analytic), Math.abs(numeric));
    expect(Math.abs(analytic - numeric), `${names[i]}: analytic ${analytic}, numeric ${numeric}`).toBeLessThanOrEqual(rtol * scale + 2e-3);
  }
  tf.dispose([probe, ...Object.values(grads)]);
}

describe('resnet18 gradients (finite differences, cpu float32)', () => {
  const names = [
    'stem.conv.kernel',
    'stage1.block0.conv1.kernel',
    'stage1.block1.conv2.kernel',
    'stage2.block0.shortcut.conv.kernel',
    'stage3.block0.bn1.gamma',
    'stage4.block1.conv1.kernel',
    'fc.kernel',
  ];
  // Directional derivatives along unit directions; step 5e-4, relative tolerance 2e-2 (+2e-3
  // absolute). 8×8 inputs keep the width-4 net small: with ~10⁵ ReLUs (32×32 inputs) a float32
  // step large enough to beat round-off crosses enough kinks to bias layers near the input by
  // several percent, while the gradient itself is right (the difference shrinks with the step).
  it('match central differences in eval mode', () => {
    const m = build(4, 2);
    const x = images(2, 9, 8);
    gradCheck(m, x, names, false, 5e-4, 2e-2);
    x.dispose();
    m.dispose();
  });
  it('match central differences in training mode (batch statistics)', () => {
    // Batch 4: stage 4 maps are 1×1, so BN there normalises over 4 values per channel.
    const m = build(4, 2);
    const x = images(4, 9, 8);
    gradCheck(m, x, names, true, 5e-4, 2e-2);
    x.dispose();
    m.dispose();
  });
});
