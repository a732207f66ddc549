import * as tf from '@tensorflow/tfjs-core';
import { type Model, Rng, createContainer, createMemoryLogger, isUnlearnError, runServices, train, fullSubset } from '@unlearnjs/core';
import { type AttachedLora, attachLora } from '@unlearnjs/lora';
import { createSyntheticImageSet, createTinyModel, expectMaskedWeightsZero, expectNoTensorLeak } from '@unlearnjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { batch, countZeros, logits, maxAbsDiff, read, setSparseMasks, sgdStep, useCpu } from './helpers.js';

useCpu();

// conv.kernel [3,3,3,4] (fanIn 27, out 4), hidden.kernel [256,8], classifier dense.kernel [8,10].
const tiny = (seed = 0): Model => createTinyModel(new Rng(seed), { hidden: 8 });
let disposeLater: Model[] = [];
afterEach(() => {
  for (const m of disposeLater) m.dispose();
  disposeLater = [];
});
function model(seed = 0): Model {
  const m = tiny(seed);
  disposeLater.push(m);
  return m;
}

function trainableSize(m: Model): number {
  let n = 0;
  for (const v of m.trainableVariables().values()) n += v.size;
  return n;
}

describe('attachLora', () => {
  it('adapts the default targets with the rank capped at min(fanIn, out), A Kaiming-uniform and B zero', () => {
    const m = model();
    const lora = attachLora(m, {}, new Rng(1));
    expect(lora.targets.map((t) => [t.weight, t.fanIn, t.out, t.rank])).toEqual([
      ['conv.kernel', 27, 4, 4],
      ['hidden.kernel', 256, 8, 8],
    ]);
    for (const t of lora.targets) {
      expect(t.scale).toBe(16 / t.rank);
      const a = m.extraParams.get(`lora.${t.weight}.A`) as tf.Variable;
      const b = m.extraParams.get(`lora.${t.weight}.B`) as tf.Variable;
      expect(a.shape).toEqual([t.fanIn, t.rank]);
      expect(b.shape).toEqual([t.rank, t.out]);
      const bound = 1 / Math.sqrt(t.fanIn);
      const av = a.dataSync();
      expect(Math.max(...av.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(new Set(av).size).toBeGreaterThan(av.length / 2); // random, not constant
      expect([...b.dataSync()].every((v) => v === 0)).toBe(true);
    }
    lora.detach();
  });

  it('equals the base model at attach time (B = 0)', () => {
    const m = model();
    const { x, y } = batch(1);
    const before = logits(m, x);
    const lora = attachLora(m, { rank: 3, init: 'gaussian' }, new Rng(1));
    expect(logits(m, x)).toEqual(before);
    lora.detach();
    x.dispose();
    y.dispose();
  });

  it('trains only A, B and the classifier, and counts r·(fanIn+out) per target plus the head', () => {
    const m = model();
    const lora = attachLora(m, { rank: 3 }, new Rng(1));
    const expected = 3 * (27 + 4) + 3 * (256 + 8) + 8 * 10 + 10;
    expect(lora.trainableCount).toBe(expected);
    expect(trainableSize(m)).toBe(expected);
    expect([...m.trainableVariables().keys()].sort()).toEqual(
      ['dense.bias', 'dense.kernel', 'lora.conv.kernel.A', 'lora.conv.kernel.B', 'lora.hidden.kernel.A', 'lora.hidden.kernel.B'].sort(),
    );
    expect(lora.parameterNames).toEqual(['lora.conv.kernel.A', 'lora.conv.kernel.B', 'lora.hidden.kernel.A', 'lora.hidden.kernel.B']);
    lora.detach();
  });

  it('freezes and may adapt the classifier when trainClassifier is false', () => {
    const m = model();
    const lora = attachLora(m, { rank: 2, trainClassifier: false, targets: ['dense.kernel'] }, new Rng(1));
    expect(lora.targets.map((t) => t.weight)).toEqual(['dense.kernel']);
    expect(m.isFrozen('dense.bias')).toBe(true);
    expect(lora.trainableCount).toBe(2 * (8 + 10));
    lora.detach();
    expect(m.isFrozen('dense.bias')).toBe(false);
  });

  it('a training step changes A, B and the classifier, never the frozen weights', () => {
    const m = model();
    const lora = attachLora(m, { rank: 3 }, new Rng(1));
    const { x, y } = batch(2);
    const frozen0 = read(new Map([...m.params].filter(([n]) => m.isFrozen(n))));
    const extra0 = read(m.extraParams);
    const head0 = read(new Map([...m.params].filter(([n]) => !m.isFrozen(n))));
    sgdStep(m, x, y);
    sgdStep(m, x, y); // the first step moves B only (∂L/∂A ∝ B = 0); the second moves A too
    expect(read(new Map([...m.params].filter(([n]) => m.isFrozen(n))))).toEqual(frozen0);
    for (const [name, v] of read(m.extraParams)) expect(maxAbsDiff(v, extra0.get(name) as Float32Array), name).toBeGreaterThan(0);
    for (const [name, v] of read(new Map([...m.params].filter(([n]) => !m.isFrozen(n))))) {
      expect(maxAbsDiff(v, head0.get(name) as Float32Array), name).toBeGreaterThan(0);
    }
    lora.detach();
    x.dispose();
    y.dispose();
  });

  it('the effective weight is W + (α/r)·reshape(A·B) for conv and dense kernels', () => {
    const m = model();
    const lora = attachLora(m, { rank: 2, alpha: 3 }, new Rng(1));
    setB(m, lora, 5);
    for (const t of lora.targets) {
      const a = m.extraParams.get(t.a) as tf.Variable;
      const b = m.extraParams.get(t.b) as tf.Variable;
      const w = m.params.get(t.weight) as tf.Variable;
      const [ad, bd, wd] = [a.dataSync(), b.dataSync(), w.dataSync()];
      const eff = tf.tidy(() => m.effectiveWeight(t.weight));
      expect(eff.shape).toEqual(t.shape);
      const ed = eff.dataSync();
      let worst = 0;
      for (let i = 0; i < t.fanIn; i++) {
        for (let o = 0; o < t.out; o++) {
          let s = 0;
          for (let k = 0; k < t.rank; k++) s += ad[i * t.rank + k] * bd[k * t.out + o];
          // HWIO flattened row-major is [(h·kw + w)·in + c, out]: the same index as [fanIn, out].
          worst = Math.max(worst, Math.abs(ed[i * t.out + o] - (wd[i * t.out + o] + (3 / 2) * s)));
        }
      }
      expect(worst, t.weight).toBeLessThan(1e-5);
      eff.dispose();
    }
    lora.detach();
  });

  it('merge gives the adapted outputs, writes W + ΔW and removes the adapter', () => {
    const m = model();
    const { x, y } = batch(3);
    const lora = attachLora(m, { rank: 3 }, new Rng(1));
    sgdStep(m, x, y);
    sgdStep(m, x, y);
    const adapted = logits(m, x);
    const expectedConv = tf.tidy(() => tf.add(m.params.get('conv.kernel') as tf.Variable, lora.delta('conv.kernel')));
    lora.merge();
    expect(maxAbsDiff(logits(m, x), adapted)).toBeLessThan(1e-5);
    expect(maxAbsDiff(m.params.get('conv.kernel')?.dataSync() as Float32Array, expectedConv.dataSync() as Float32Array)).toBe(0);
    expect(m.extraParams.size).toBe(0);
    expect(lora.attached).toBe(false);
    for (const n of m.params.keys()) expect(m.isFrozen(n)).toBe(false);
    expect(() => lora.merge()).toThrow(/already merged or detached/);
    expectedConv.dispose();
    x.dispose();
    y.dispose();
  });

  it('detach restores the base weights and outputs exactly', () => {
    const m = model();
    setSparseMasks(m, 0.5, new Rng(2));
    const { x, y } = batch(4);
    const base = read(m.params);
    const out = logits(m, x);
    const lora = attachLora(m, { rank: 3 }, new Rng(1));
    setB(m, lora, 8);
    expect(maxAbsDiff(logits(m, x), out)).toBeGreaterThan(0);
    lora.detach();
    expect(read(m.params)).toEqual(base);
    expect(logits(m, x)).toEqual(out);
    expect(m.extraParams.size).toBe(0);
    for (const n of m.params.keys()) expect(m.isFrozen(n)).toBe(false);
    x.dispose();
    y.dispose();
  });

  it('keeps a 95% sparse model exactly 95% sparse through attach → train → merge', async () => {
    const m = model();
    const zeros = setSparseMasks(m, 0.95, new Rng(9));
    expect(countZeros(m).zeros).toBe(zeros);
    const lora = attachLora(m, { rank: 4 }, new Rng(1));
    const container = createContainer({ seed: 5, logger: createMemoryLogger() });
    const data = fullSubset(createSyntheticImageSet({ n: 16, seed: 6 }));
    await train(m, { data, epochs: 2, batchSize: 8, lr: 0.05, evalEvery: 0, services: runServices(container, 'lora-test') });
    // The masked update is zero where the mask is, though A·B is dense.
    const delta = lora.delta('hidden.kernel');
    const mask = m.masks.get('hidden.kernel')?.dataSync() as Float32Array;
    const dd = delta.dataSync();
    expect(dd.some((v, i) => mask[i] === 1 && v !== 0)).toBe(true);
    expect(dd.every((v, i) => mask[i] === 1 || v === 0)).toBe(true);
    delta.dispose();
    lora.merge();
    const { zeros: after, total } = countZeros(m);
    expect(after).toBe(zeros);
    expect(after / total).toBeCloseTo(0.95, 3);
    expect(expectMaskedWeightsZero(m)).toBe(zeros);
  });

  it('applies dropout to rows of A only in differentiated forward passes', () => {
    const m = model();
    const lora = attachLora(m, { rank: 3, dropout: 0.5 }, new Rng(1));
    setB(m, lora, 6);
    const w = m.params.get('hidden.kernel') as tf.Variable;
    const evalDelta = tf.tidy(() => tf.sub(m.effectiveWeight('hidden.kernel'), w));
    let trainDelta: tf.Tensor | undefined;
    const { grads, value } = tf.variableGrads(() => {
      const eff = m.effectiveWeight('hidden.kernel');
      trainDelta = tf.keep(tf.sub(eff, w));
      return tf.sum(eff) as tf.Scalar;
    }, [m.extraParams.get('lora.hidden.kernel.B') as tf.Variable]);
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    const [ed, td] = [evalDelta.dataSync(), (trainDelta as tf.Tensor).dataSync()];
    let dropped = 0;
    for (let row = 0; row < 256; row++) {
      const e = ed.slice(row * 8, row * 8 + 8);
      const t = td.slice(row * 8, row * 8 + 8);
      if (t.every((v) => v === 0)) dropped++;
      else for (let o = 0; o < 8; o++) expect(t[o]).toBeCloseTo(2 * e[o], 5);
    }
    expect(dropped).toBeGreaterThan(256 * 0.3);
    expect(dropped).toBeLessThan(256 * 0.7);
    // Evaluation never drops: the same weight twice.
    const again = tf.tidy(() => tf.sub(m.effectiveWeight('hidden.kernel'), w));
    expect(again.dataSync()).toEqual(ed);
    tf.dispose([evalDelta, trainDelta as tf.Tensor, again]);
    lora.detach();
  });

  it('accepts glob and RegExp targets', () => {
    const m = model();
    const a = attachLora(m, { rank: 1, targets: ['hid*'] }, new Rng(1));
    expect(a.targets.map((t) => t.weight)).toEqual(['hidden.kernel']);
    a.detach();
    const b = attachLora(m, { rank: 1, targets: ['/^(conv|hidden)\\.kernel$/'] }, new Rng(1));
    expect(b.targets.map((t) => t.weight)).toEqual(['conv.kernel', 'hidden.kernel']);
    b.detach();
    // `*` would match the classifier and biases: only kernels other than the head are adapted.
    const c = attachLora(m, { rank: 1, targets: ['*'] }, new Rng(1));
    expect(c.targets.map((t) => t.weight)).toEqual(['conv.kernel', 'hidden.kernel']);
    c.detach();
  });

  it('rejects a target that matches nothing, naming the pattern, and changes nothing', () => {
    const m = model();
    for (const [targets, hint] of [
      [['conv.kernel', 'nope*'], /"nope\*"/],
      [['dense.kernel'], /trainClassifier/],
      [['conv.bias'], /"conv\.bias"/],
    ] as const) {
      let caught: unknown;
      try {
        attachLora(m, { targets: [...targets] }, new Rng(1));
      } catch (err) {
        caught = err;
      }
      expect(isUnlearnError(caught, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
      expect((caught as Error).message).toMatch(hint);
      expect(m.extraParams.size).toBe(0);
      for (const n of m.params.keys()) expect(m.isFrozen(n)).toBe(false);
    }
  });

  it('rejects bad options and a second attach with UNLEARN_INVALID_OPTIONS', () => {
    const m = model();
    for (const bad of [{ rank: 0 }, { rank: -3 }, { alpha: 0 }, { dropout: -0.1 }, { targets: ['/(/'] }]) {
      expect(() => attachLora(m, bad, new Rng(1)), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }),
      );
    }
    const lora = attachLora(m, { rank: 1 }, new Rng(1));
    expect(() => attachLora(m, { rank: 1 }, new Rng(1))).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
    lora.detach();
  });

  it('leaks no tensors through attach, training forward, merge and dispose', async () => {
    const { x, y } = batch(7);
    await expectNoTensorLeak(() => {
      const m = tiny();
      setSparseMasks(m, 0.5, new Rng(2));
      const lora = attachLora(m, { rank: 2 }, new Rng(1));
      logits(m, x);
      sgdStep(m, x, y);
      lora.delta('conv.kernel').dispose();
      lora.merge();
      m.dispose();
      const m2 = tiny();
      attachLora(m2, { rank: 2 }, new Rng(1)); // disposed with the model, still attached
      m2.dispose();
    });
    x.dispose();
    y.dispose();
  });
});

/** Give B random values (as training would), so that ΔW ≠ 0. */
function setB(m: Model, lora: AttachedLora, seed: number): void {
  const rng = new Rng(seed);
  for (const t of lora.targets) {
    const b = m.extraParams.get(t.b) as tf.Variable;
    tf.tidy(() => b.assign(tf.tensor(rng.normalArray(b.size, 0, 0.1), b.shape)));
  }
}
