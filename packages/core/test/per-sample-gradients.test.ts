import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import {
  Model,
  type ModelDefinition,
  type ParamVector,
  type PerSampleForward,
  Rng,
  batchedDirectionalGradients,
  batchedPerSampleGradients,
  createContainer,
  createModel,
  disposeVector,
  gradientsOf,
  perSampleChunkSize,
  perSampleForwardOf,
  registerCoreModels,
} from '@unlearnjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** ‖a − b‖ / ‖b‖ (0 when both are zero). */
function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => {
    const num = tf.norm(tf.sub(a, b)).dataSync()[0];
    const den = tf.norm(b).dataSync()[0];
    return den === 0 ? num : num / den;
  });
}

function images(n: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(n * 32 * 32 * 3, 0, 1), [n, 32, 32, 3]);
}

function labels(n: number, seed: number): tf.Tensor1D {
  const rng = new Rng(seed);
  return tf.tensor1d(
    Array.from({ length: n }, () => rng.int(10)),
    'int32',
  );
}

/** A ResNet-18 with random BatchNorm statistics (so eval mode is no identity) and random masks. */
function resnet(width: number, seed = 1): Model {
  const model = createModel(createContainer({ seed, use: [registerCoreModels] }), 'resnet18', { width });
  const rng = new Rng(seed + 100);
  for (const [name, b] of model.buffers) {
    const values = name.endsWith('runningVar') ? rng.uniformArray(b.size, 0.5, 2) : rng.uniformArray(b.size, -0.2, 0.2);
    b.assign(tf.tensor(values, b.shape));
  }
  for (const [name, p] of model.params) {
    if (name.endsWith('.gamma')) p.assign(tf.tensor(rng.uniformArray(p.size, 0.5, 1.5), p.shape));
    if (name.endsWith('.beta')) p.assign(tf.tensor(rng.uniformArray(p.size, -0.1, 0.1), p.shape));
  }
  const masks = new Map<string, tf.Tensor>();
  for (const name of model.prunable) {
    const w = model.params.get(name) as tf.Variable;
    masks.set(
      name,
      tf.tensor(
        Array.from({ length: w.size }, () => (rng.next() < 0.5 ? 1 : 0)),
        w.shape,
      ),
    );
  }
  model.setMasks(masks);
  for (const m of masks.values()) m.dispose();
  model.applyMasks();
  return model;
}

/** A tiny MLP (flatten → dense 24 → relu → dense 10) and its tape forward. */
const MLP_DEFINITION: ModelDefinition = {
  arch: 'test-mlp',
  config: {},
  params: [
    { name: 'h.kernel', shape: [8 * 8 * 3, 24], init: 'he-normal' },
    { name: 'h.bias', shape: [24], init: 'normal:0.1' },
    { name: 'out.kernel', shape: [24, 10], init: 'glorot-uniform' },
    { name: 'out.bias', shape: [10], init: 'zeros' },
  ],
  buffers: [],
  prunable: ['h.kernel'],
  classifier: { kernel: 'out.kernel', bias: 'out.bias' },
  forward: (x, ctx) =>
    tf.tidy(() => {
      const small = tf.reshape(tf.mul(tf.sub(tf.slice(x, [0, 0, 0, 0], [-1, 8, 8, 3]), 0.5), 4), [x.shape[0], -1]) as tf.Tensor2D;
      const h = tf.relu(tf.add(tf.matMul(small, ctx.w('h.kernel') as tf.Tensor2D), ctx.w('h.bias'))) as tf.Tensor2D;
      return tf.add(tf.matMul(h, ctx.w('out.kernel') as tf.Tensor2D), ctx.w('out.bias')) as tf.Tensor2D;
    }),
};

const mlpForward: PerSampleForward = (x, t) => {
  const input = t.input(tf.tidy(() => tf.slice(x, [0, 0, 0, 0], [-1, 8, 8, 3])));
  const h = t.relu(t.dense(t.flatten(t.affine(input, 0.5, 4)), 'h.kernel', 'h.bias'));
  return t.dense(h, 'out.kernel', 'out.bias');
};

function perImage(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): ParamVector[] {
  const out: ParamVector[] = [];
  for (let i = 0; i < x.shape[0]; i++) {
    const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]);
    const yi = tf.slice(y, [i], [1]);
    out.push(gradientsOf(model, xi, yi));
    tf.dispose([xi, yi]);
  }
  return out;
}

function expectPerSampleMatch(model: Model, x: tf.Tensor4D, y: tf.Tensor1D, forward?: PerSampleForward): void {
  const reference = perImage(model, x, y);
  const batched = batchedPerSampleGradients(model, x, y, { forward });
  try {
    expect([...batched.keys()]).toEqual([...model.trainableVariables().keys()]);
    for (const [name, g] of batched) {
      for (let i = 0; i < x.shape[0]; i++) {
        const row = tf.tidy(() => tf.reshape(tf.slice(g, [i], [1]), g.shape.slice(1)));
        const err = relativeError(row, reference[i].get(name) as tf.Tensor);
        row.dispose();
        expect(err, `${name} sample ${i}`).toBeLessThan(1e-5);
      }
    }
  } finally {
    disposeVector(batched);
    for (const r of reference) disposeVector(r);
  }
}

describe('batchedPerSampleGradients', () => {
  const x = images(3, 5);
  const y = labels(3, 6);
  afterAll(() => tf.dispose([x, y]));

  it('equals one backward pass per image on a masked ResNet-18 (width 4) within 1e-5', () => {
    const model = resnet(4);
    try {
      expect(perSampleForwardOf(model)).toBeDefined();
      expectPerSampleMatch(model, x, y);
    } finally {
      model.dispose();
    }
  });

  it('equals one backward pass per image on a tiny MLP given its tape forward', () => {
    const model = new Model(MLP_DEFINITION, new Rng(3));
    try {
      expect(perSampleForwardOf(model)).toBeUndefined();
      expectPerSampleMatch(model, x, y, mlpForward);
    } finally {
      model.dispose();
    }
  });

  it('keeps pruned weights at exactly zero, leaks no tensor and repeats exactly', () => {
    const model = resnet(4, 2);
    try {
      const before = tf.memory().numTensors;
      const a = batchedPerSampleGradients(model, x, y);
      const b = batchedPerSampleGradients(model, x, y);
      for (const [name, mask] of model.masks) {
        const g = a.get(name) as tf.Tensor;
        const leaked = tf.tidy(() => tf.sum(tf.abs(tf.mul(g, tf.sub(1, mask)))).dataSync()[0]);
        expect(leaked, name).toBe(0);
      }
      for (const [name, g] of a) expect(Array.from(g.dataSync())).toEqual(Array.from((b.get(name) as tf.Tensor).dataSync()));
      disposeVector(a);
      disposeVector(b);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('refuses a model it does not know without a tape forward', () => {
    const model = new Model(MLP_DEFINITION, new Rng(3));
    try {
      expect(() => batchedPerSampleGradients(model, x, y)).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
    } finally {
      model.dispose();
    }
  });
});

describe('batchedDirectionalGradients', () => {
  it('gives, for every label, the gradient of the batch-mean cross-entropy (one forward)', () => {
    const model = resnet(4, 3);
    const x = images(4, 7);
    try {
      const before = tf.memory().numTensors;
      const got = new Map<string, tf.Tensor>();
      batchedDirectionalGradients(
        model,
        x,
        (logits) =>
          tf.tidy(() => {
            const p = tf.softmax(logits);
            const eye = tf.reshape(tf.eye(10), [10, 1, 10]);
            return tf.div(tf.sub(tf.expandDims(p, 0), eye), x.shape[0]) as tf.Tensor3D;
          }),
        (name, g) => got.set(name, g),
      );
      for (const yLabel of [0, 3, 9]) {
        const labelsY = tf.fill([4], yLabel, 'int32') as tf.Tensor1D;
        const ref = gradientsOf(model, x, labelsY);
        for (const [name, g] of got) {
          const row = tf.tidy(() => tf.reshape(tf.slice(g, [yLabel], [1]), g.shape.slice(1)));
          expect(relativeError(row, ref.get(name) as tf.Tensor), `${name} label ${yLabel}`).toBeLessThan(1e-5);
          row.dispose();
        }
        disposeVector(ref);
        labelsY.dispose();
      }
      for (const g of got.values()) g.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
});

describe('perSampleChunkSize', () => {
  it('fits the budget and stays within [1, maxChunk]', () => {
    const vars = new Map([['w', tf.zeros([1024, 1024])]]);
    expect(perSampleChunkSize(vars, { memoryBudgetBytes: 64 * 1024 * 1024 })).toBe(8);
    expect(perSampleChunkSize(vars, { memoryBudgetBytes: 1 })).toBe(1);
    expect(perSampleChunkSize(vars, { memoryBudgetBytes: 1e12, maxChunk: 16 })).toBe(16);
    for (const t of vars.values()) t.dispose();
  });
});
