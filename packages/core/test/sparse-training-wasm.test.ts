import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import {
  MASKED_CONV_KERNELS,
  type Model,
  Rng,
  createContainer,
  createImageSet,
  createMemoryLogger,
  createModel,
  crossEntropy,
  ensureGradients,
  fullSubset,
  registerCoreModels,
  runServices,
  train,
} from '@unlearnjs/core';

// ResNet-18 width 8: its stage-3/4 convs (32→32, 64→64: 9,216 and 36,864 weights) are big enough
// for backend-wasm's sparse kernels, which take a conv whose filter or mask is ≤ 15% ones.
const WIDTH = 8;

/** Masks as a 95%-pruned ResNet-18 has them: ~35% ones early, ~5% in stage 3, ~1% in stage 4. */
function pruneLikeOmp(model: Model, seed: number): void {
  const rng = new Rng(seed);
  const masks = new Map<string, tf.Tensor>();
  for (const name of model.prunable) {
    const w = model.params.get(name) as tf.Variable;
    const density = name.startsWith('stage4') ? 0.01 : name.startsWith('stage3') ? 0.05 : 0.35;
    masks.set(
      name,
      tf.tensor(
        rng.uniformArray(w.size, 0, 1).map((u) => (u < density ? 1 : 0)),
        w.shape,
      ),
    );
  }
  model.setMasks(masks);
  model.applyMasks();
  tf.dispose([...masks.values()]);
}

function batch(seed: number, n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rng = new Rng(seed);
  return {
    x: tf.tensor4d(rng.uniformArray(n * 32 * 32 * 3, 0, 1), [n, 32, 32, 3]),
    y: tf.tensor1d(
      Array.from({ length: n }, () => rng.int(10)),
      'int32',
    ),
  };
}

/** Gradients of the cross-entropy of one training-mode forward pass, by parameter name. */
function gradients(model: Model, x: tf.Tensor4D, y: tf.Tensor1D, maskedGradients: boolean): Map<string, Float32Array> {
  const vars = model.trainableVariables();
  const { value, grads } = tf.variableGrads(
    () => crossEntropy(model.forward(x, { training: true, maskedGradients }), y),
    [...vars.values()],
  );
  const out = new Map<string, Float32Array>();
  for (const [name, v] of vars) out.set(name, grads[v.name].dataSync() as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('masked gradients: pruned convs train on the sparse kernels of @unlearnjs/backend-wasm', () => {
  beforeAll(async () => {
    ensureGradients();
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });
  afterAll(() => {
    unregisterWasmTrainingKernels();
  });

  it('gives the dense gradient at the mask ones and exactly 0 at the pruned positions', () => {
    const container = createContainer({ seed: 5, use: [registerCoreModels], logger: createMemoryLogger() });
    const model = createModel(container, 'resnet18', { width: WIDTH });
    pruneLikeOmp(model, 6);
    const { x, y } = batch(7, 8);
    const dense = gradients(model, x, y, false);
    const before = tf.memory().numTensors;
    const masked = gradients(model, x, y, true);
    expect(tf.memory().numTensors).toBe(before);
    for (const [name, d] of dense) {
      const m = masked.get(name) as Float32Array;
      const mask = model.masks.get(name)?.dataSync();
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < d.length; i++) {
        if (mask && mask[i] === 0) {
          expect(m[i] === 0, `${name}[${i}]`).toBe(true);
          continue;
        }
        scale = Math.max(scale, Math.abs(d[i]));
        diff = Math.max(diff, Math.abs(d[i] - m[i]));
      }
      expect(diff, name).toBeLessThanOrEqual(1e-5 * scale + 1e-9);
    }
    tf.dispose([x, y]);
    model.dispose();
  });

  it('runs the masked kernels, with one input gradient fewer than convs (none for the stem)', async () => {
    const container = createContainer({ seed: 5, use: [registerCoreModels], logger: createMemoryLogger() });
    const model = createModel(container, 'resnet18', { width: WIDTH });
    pruneLikeOmp(model, 6);
    const { x, y } = batch(8, 4);
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(x, { training: true, maskedGradients: true }), y));
      tf.dispose([value, ...Object.values(grads)]);
    });
    const count = (k: string) => profile.kernels.filter((r) => r.name === k).length;
    const convs = model.prunable.length; // every conv kernel is prunable (and masked here); fc is not
    expect(count(MASKED_CONV_KERNELS.forward)).toBe(convs);
    expect(count(MASKED_CONV_KERNELS.filterGradient)).toBe(convs);
    expect(count('Conv2DBackpropInput')).toBe(convs - 1);
    expect(count('Conv2DBackpropFilter')).toBe(0);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('train() on wasm matches training on cpu, and pruned weights stay exactly 0', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const container = createContainer({ seed: 5, use: [registerCoreModels], logger: createMemoryLogger() });
      const model = createModel(container, 'resnet18', { width: WIDTH });
      pruneLikeOmp(model, 6);
      const rng = new Rng(9);
      const n = 8;
      const images = new Uint8Array(n * 3072).map(() => rng.int(256));
      const labels = new Uint8Array(n).map(() => rng.int(10));
      await train(model, {
        data: fullSubset(createImageSet({ images, labels })),
        epochs: 1,
        batchSize: 4,
        lr: 0.05,
        augment: false,
        shuffle: false,
        evalEvery: 0,
        services: runServices(container, 'sparse-train'),
      });
      const out = new Map<string, Float32Array>();
      for (const [name, v] of model.params) out.set(name, v.dataSync() as Float32Array);
      const masks = new Map([...model.masks].map(([k, m]) => [k, m.dataSync() as Float32Array]));
      model.dispose();
      return { out, masks };
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    for (const [name, c] of cpu.out) {
      const w = wasm.out.get(name) as Float32Array;
      const mask = wasm.masks.get(name);
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < c.length; i++) {
        if (mask && mask[i] === 0) expect(w[i] === 0, `${name}[${i}]`).toBe(true);
        scale = Math.max(scale, Math.abs(c[i]));
        diff = Math.max(diff, Math.abs(c[i] - w[i]));
      }
      expect(diff, name).toBeLessThanOrEqual(1e-4 * scale + 1e-7);
    }
  });
});
