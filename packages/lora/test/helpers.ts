import * as tf from '@tensorflow/tfjs-core';
import { type Model, type ModelDefinition, Rng, SgdOptimizer, ensureGradients, fullSubset, toTensor } from '@unlearnjs/core';
import { createSyntheticImageSet } from '@unlearnjs/testing';
import { beforeAll } from 'vitest';

/** Run the file on the cpu backend. */
export function useCpu(): void {
  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    await tf.ready();
    ensureGradients();
  });
}

/** A small labelled batch `[n, 32, 32, 3]`; the caller disposes both tensors. */
export function batch(seed: number, n = 6): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return toTensor(fullSubset(createSyntheticImageSet({ n, seed })));
}

/** Logits in eval mode as plain numbers. */
export function logits(model: Model, x: tf.Tensor4D): Float32Array {
  const out = tf.tidy(() => model.forward(x));
  const values = Float32Array.from(out.dataSync() as ArrayLike<number>);
  out.dispose();
  return values;
}

/** Plain copies of named tensors. */
export function read(map: ReadonlyMap<string, tf.Tensor>): Map<string, Float32Array> {
  return new Map([...map].map(([n, t]) => [n, Float32Array.from(t.dataSync() as ArrayLike<number>)]));
}

/** One SGD step (cross-entropy, training mode) on the model's trainable variables. */
export function sgdStep(model: Model, x: tf.Tensor4D, y: tf.Tensor1D, lr = 0.1, rng = new Rng(3)): void {
  const vars = model.trainableVariables();
  const optimizer = new SgdOptimizer({ momentum: 0, weightDecay: 0 });
  const { value, grads } = tf.variableGrads(() => {
    const out = model.forward(x, { training: true, rng });
    const logp = tf.logSoftmax(out);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.cast(y, 'int32'), out.shape[1]), logp), 1))) as tf.Scalar;
  }, [...vars.values()]);
  const named: Record<string, tf.Tensor> = {};
  for (const [n, v] of vars) if (grads[v.name]) named[n] = grads[v.name];
  optimizer.step(vars, named, lr, model.masks);
  value.dispose();
  for (const g of Object.values(grads)) g.dispose();
  optimizer.dispose();
}

/** Largest absolute difference. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Set a mask with exactly round(rate·size) zeros (chosen at random) on every prunable weight. */
export function setSparseMasks(model: Model, rate: number, rng: Rng): number {
  const masks = new Map<string, tf.Tensor>();
  let zeros = 0;
  for (const name of model.prunable) {
    const w = model.params.get(name) as tf.Variable;
    const values = new Float32Array(w.size).fill(1);
    const k = Math.round(rate * w.size);
    const order = rng.permutation(w.size);
    for (let i = 0; i < k; i++) values[order[i]] = 0;
    zeros += k;
    masks.set(name, tf.tensor(values, w.shape));
  }
  model.setMasks(masks);
  for (const m of masks.values()) m.dispose();
  return zeros;
}

/** Count exact zeros over the prunable weights. */
export function countZeros(model: Model): { zeros: number; total: number } {
  let zeros = 0;
  let total = 0;
  for (const name of model.prunable) {
    const data = (model.params.get(name) as tf.Variable).dataSync();
    total += data.length;
    for (const v of data) if (v === 0) zeros++;
  }
  return { zeros, total };
}

function spec(name: string, shape: number[]) {
  return { name, shape, init: shape.length === 1 ? 'ones' : 'normal:0.1' };
}

const noForward = (): never => {
  throw new Error('shape-only fixture');
};

/** Parameter names and shapes of a width-4 ResNet-18 (two stages), without its forward. */
export function fakeResnetDefinition(): ModelDefinition {
  const params = [
    spec('stem.conv.kernel', [3, 3, 3, 4]),
    spec('stem.bn.gamma', [4]),
    spec('stage1.block0.conv1.kernel', [3, 3, 4, 4]),
    spec('stage1.block0.conv2.kernel', [3, 3, 4, 4]),
    spec('stage2.block0.conv1.kernel', [3, 3, 4, 8]),
    spec('stage2.block0.conv2.kernel', [3, 3, 8, 8]),
    spec('stage2.block0.shortcut.conv.kernel', [1, 1, 4, 8]),
    spec('fc.kernel', [8, 10]),
    spec('fc.bias', [10]),
  ];
  return {
    arch: 'resnet18',
    config: { width: 4 },
    params,
    buffers: [],
    prunable: params.filter((p) => p.shape.length === 4).map((p) => p.name),
    classifier: { kernel: 'fc.kernel', bias: 'fc.bias' },
    forward: noForward,
  };
}

/** Parameter names and shapes of a one-block ViT (dim 8), without its forward. */
export function fakeVitDefinition(): ModelDefinition {
  const dense = ['attn.query', 'attn.key', 'attn.value', 'attn.out'].map((n) => spec(`blocks.0.${n}.kernel`, [8, 8]));
  const params = [
    spec('patchEmbed.kernel', [48, 8]),
    spec('clsToken', [1, 1, 8]),
    spec('posEmbed', [1, 65, 8]),
    ...dense,
    spec('blocks.0.mlp.fc1.kernel', [8, 16]),
    spec('blocks.0.mlp.fc2.kernel', [16, 8]),
    spec('head.kernel', [8, 10]),
    spec('head.bias', [10]),
  ];
  return {
    arch: 'vit',
    config: { dim: 8 },
    params,
    buffers: [],
    prunable: params.filter((p) => p.name.startsWith('blocks.')).map((p) => p.name),
    classifier: { kernel: 'head.kernel', bias: 'head.bias' },
    forward: noForward,
  };
}
