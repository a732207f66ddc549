import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type LinearOp,
  Model,
  type ModelDefinition,
  Rng,
  createContainer,
  createModel,
  isUnlearnError,
  matMul,
  registerCoreModels,
} from '@unlearnjs/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function images(n: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(n * 32 * 32 * 3, 0, 1), [n, 32, 32, 3]);
}

function values(t: tf.Tensor): Float32Array {
  const v = Float32Array.from(t.dataSync());
  t.dispose();
  return v;
}

/** A one-dense-layer model; `viaLinear` says whether its forward uses ctx.linear or ctx.w. */
function denseDefinition(viaLinear: boolean): ModelDefinition {
  return {
    arch: 'probe',
    config: {},
    params: [{ name: 'k', shape: [3, 2], init: 'normal:1' }],
    buffers: [],
    prunable: ['k'],
    classifier: { kernel: 'k' },
    linear: ['k'],
    forward: (x, ctx) => {
      const flat = tf.mean(x, [1, 2]) as tf.Tensor2D;
      const op: LinearOp = (t, w) => tf.matMul(t as tf.Tensor2D, w as tf.Tensor2D);
      return (viaLinear ? ctx.linear('k', flat, op) : op(flat, ctx.w('k'))) as tf.Tensor2D;
    },
  };
}

describe('Model linear overrides', () => {
  const container = createContainer({ seed: 0, use: [registerCoreModels] });

  it('lists every conv and dense kernel of the core architectures as linear weights', () => {
    const resnet = createModel(container, 'resnet18', { width: 4 });
    expect([...resnet.linearWeights].sort()).toEqual([...resnet.prunable, 'fc.kernel'].sort());
    resnet.dispose();
    const vit = createModel(container, 'vit', { dim: 8, depth: 1, heads: 2, mlpDim: 16, patchSize: 8 });
    expect([...vit.linearWeights].sort()).toEqual([...vit.params.keys()].filter((n) => n.endsWith('.kernel')).sort());
    vit.dispose();
  });

  it('an override replaces the layer: receives the input, the effective weight and the layer op', () => {
    for (const [arch, options, layer] of [
      ['resnet18', { width: 4 }, 'stage2.block0.conv1.kernel'],
      ['vit', { dim: 8, depth: 1, heads: 2, mlpDim: 16, patchSize: 8 }, 'blocks.0.mlp.fc1.kernel'],
    ] as const) {
      const model = createModel(container, arch, options);
      const x = images(2, 1);
      const base = values(tf.tidy(() => model.forward(x)));
      // Identity override: same outputs, bit for bit.
      let calls = 0;
      model.setLinearOverride(layer, (input, w, op) => {
        calls++;
        expect(w).toBe(model.params.get(layer));
        return op(input, w);
      });
      expect(values(tf.tidy(() => model.forward(x)))).toEqual(base);
      expect(calls).toBe(1);
      // op(x, 2W) through the override equals a weight transform doubling W (op is linear in w).
      model.setLinearOverride(layer, (input, w, op) => tf.mul(op(input, w), 2));
      const viaOverride = values(tf.tidy(() => model.forward(x)));
      model.setLinearOverride(layer, undefined);
      model.setWeightTransform(layer, (w) => tf.mul(w, 2));
      const viaTransform = values(tf.tidy(() => model.forward(x)));
      model.setWeightTransform(layer, undefined);
      expect(Math.max(...viaOverride.map((v, i) => Math.abs(v - viaTransform[i])))).toBeLessThan(1e-5);
      expect(Math.max(...viaOverride.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-4);
      expect(values(tf.tidy(() => model.forward(x)))).toEqual(base);
      x.dispose();
      model.dispose();
    }
  });

  it('refuses an override on a weight the architecture does not compute through ctx.linear', () => {
    const model = createModel(container, 'resnet18', { width: 4 });
    let caught: unknown;
    try {
      model.setLinearOverride('fc.bias', (x, w, op) => op(x, w));
    } catch (err) {
      caught = err;
    }
    expect(isUnlearnError(caught, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    expect((caught as Error).message).toMatch(/ctx\.linear/);
    model.dispose();
  });

  it('throws when a forward pass reads an overridden weight with ctx.w (the override would be skipped)', () => {
    const good = new Model(denseDefinition(true), new Rng(0));
    const bad = new Model(denseDefinition(false), new Rng(0));
    const x = images(1, 2);
    for (const m of [good, bad]) m.setLinearOverride('k', (input, w, op) => op(input, w));
    expect(values(tf.tidy(() => good.forward(x))).length).toBe(2);
    expect(() => tf.tidy(() => bad.forward(x))).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
    x.dispose();
    good.dispose();
    bad.dispose();
  });

  it('matMul with constantB: same value and ∂/∂a as the taped product, and no gradient for b', () => {
    for (const [sa, sb] of [
      [
        [4, 3],
        [3, 5],
      ],
      [
        [2, 4, 3],
        [2, 3, 5],
      ],
    ] as const) {
      const a = tf.variable(
        tf.tensor(
          new Rng(1).normalArray(
            sa.reduce((p: number, q) => p * q, 1),
            0,
            1,
          ),
          [...sa],
        ),
      );
      const b = tf.variable(
        tf.tensor(
          new Rng(2).normalArray(
            sb.reduce((p: number, q) => p * q, 1),
            0,
            1,
          ),
          [...sb],
        ),
      );
      const loss = (constantB: boolean) => () => tf.sum(tf.square(matMul(a as never, b as never, { constantB }))) as tf.Scalar;
      const full = tf.variableGrads(loss(false), [a, b]);
      const frozen = tf.variableGrads(loss(true), [a, b]);
      expect(frozen.value.dataSync()).toEqual(full.value.dataSync());
      expect(Object.keys(frozen.grads)).toEqual([a.name]);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(frozen.grads[a.name], full.grads[a.name]))).dataSync()[0]);
      expect(diff).toBeLessThan(1e-5);
      tf.dispose([full.value, frozen.value, ...Object.values(full.grads), ...Object.values(frozen.grads), a, b]);
    }
  });
});
