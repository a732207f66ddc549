import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listWasmTrainingKernels, registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import {
  FUSED_BATCH_NORM_GRAD_KERNEL,
  FUSED_BATCH_NORM_INFER_KERNEL,
  FUSED_BATCH_NORM_KERNEL,
  FUSED_GELU_KERNELS,
  FUSED_LAYER_NORM_KERNELS,
  FUSED_SGD_KERNEL,
  Rng,
  batchNorm,
  gelu,
  layerNorm,
  createContainer,
  createModel,
  disposeVector,
  ensureGradients,
  gradientsOf,
} from '@unlearnjs/core';
// The model plugins are not re-exported from the package root yet; import them from source.
import { registerCoreModels } from '@unlearnjs/core';

/** Logits of a freshly built model on a backend (inference only: wasm lacks conv gradients). */
async function logits(backend: string, arch: 'resnet18' | 'vit', options: Record<string, number>, training: boolean) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const m = createModel(createContainer({ seed: 4, use: [registerCoreModels] }), arch, options);
  const x = tf.tensor4d(new Rng(3).uniformArray(4 * 32 * 32 * 3, 0, 1), [4, 32, 32, 3]);
  const y = tf.tidy(() => m.forward(x, { training }));
  const out = Array.from(await y.data());
  tf.dispose([x, y]);
  m.dispose();
  return { out, leaked: tf.memory().numTensors - before };
}

describe('models on the wasm backend (smoke)', () => {
  for (const [arch, options] of [
    ['resnet18', { width: 4 }],
    ['vit', { dim: 16, depth: 2, heads: 2, mlpDim: 32 }],
  ] as const) {
    it(`${arch} gives the cpu backend's logits within 1e-3 (eval and training mode) and leaks nothing`, async () => {
      for (const training of [false, true]) {
        const cpu = await logits('cpu', arch, options, training);
        const wasm = await logits('wasm', arch, options, training);
        expect(wasm.leaked).toBe(0);
        const scale = Math.max(...cpu.out.map(Math.abs));
        for (let i = 0; i < cpu.out.length; i++) expect(Math.abs(wasm.out[i] - cpu.out[i])).toBeLessThan(1e-3 * scale + 1e-5);
      }
    });
  }
});

describe('fused BatchNorm on the wasm backend (@unlearnjs/backend-wasm)', () => {
  beforeAll(async () => {
    ensureGradients();
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });
  afterAll(() => {
    unregisterWasmTrainingKernels();
  });

  it("backend-wasm registers every fused kernel core asks for, under core's names", () => {
    const names = [
      FUSED_BATCH_NORM_KERNEL,
      FUSED_BATCH_NORM_GRAD_KERNEL,
      FUSED_BATCH_NORM_INFER_KERNEL,
      FUSED_SGD_KERNEL,
      FUSED_GELU_KERNELS.forward,
      FUSED_GELU_KERNELS.gradient,
      FUSED_LAYER_NORM_KERNELS.forward,
      FUSED_LAYER_NORM_KERNELS.gradient,
    ];
    expect(listWasmTrainingKernels()).toEqual(expect.arrayContaining(names));
    for (const name of names) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });

  it.each([true, false])(
    'batchNorm(+ residual, ReLU), training %s: output, running stats and gradients equal the composed ops on cpu',
    async (training) => {
      const rng = new Rng(8);
      const shape: [number, number, number, number] = [4, 6, 6, 12];
      const size = 4 * 6 * 6 * 12;
      const data = {
        x: rng.normalArray(size, 1, 2),
        r: rng.normalArray(size, 0, 1),
        p: rng.normalArray(size, 0, 1),
        g: rng.normalArray(12, 1, 0.5),
        b: rng.normalArray(12, 0, 0.5),
        rm: rng.normalArray(12, 1, 0.5),
        rv: Float32Array.from(rng.normalArray(12, 0, 1), (v) => v * v + 0.5),
      };
      const fusedKernel = training ? FUSED_BATCH_NORM_KERNEL : FUSED_BATCH_NORM_INFER_KERNEL;
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        const before = tf.memory().numTensors;
        const [x, r, p] = [data.x, data.r, data.p].map((d) => tf.tensor4d(d, shape));
        const [gamma, beta] = [data.g, data.b].map((d) => tf.tensor1d(d));
        const rm = tf.tidy(() => tf.variable(tf.tensor1d(data.rm), false));
        const rv = tf.tidy(() => tf.variable(tf.tensor1d(data.rv), false));
        const { value, grads } = tf.tidy(() => {
          const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor, rr: tf.Tensor) =>
            tf.sum(tf.mul(batchNorm(xx as tf.Tensor4D, gg, bb, rm, rv, training, { residual: rr as tf.Tensor4D, relu: true }), p));
          const out = tf.valueAndGrads(f)([x, gamma, beta, r]);
          return { value: out.value, grads: out.grads };
        });
        const profile = await tf.profile(() => tf.tidy(() => batchNorm(x, gamma, beta, rm, rv, training, { residual: r, relu: true })));
        const out = {
          value: (await value.data())[0],
          grads: await Promise.all(grads.map(async (t) => Array.from(await t.data()))),
          running: [Array.from(await rm.data()), Array.from(await rv.data())],
          kernels: profile.kernelNames,
        };
        tf.dispose([value, ...grads, profile.result as tf.Tensor, x, r, p, gamma, beta, rm, rv]);
        return { ...out, leaked: tf.memory().numTensors - before };
      };
      const cpu = await run('cpu');
      const wasm = await run('wasm');
      expect(wasm.kernels).toContain(fusedKernel);
      expect(cpu.kernels).not.toContain(fusedKernel);
      expect(wasm.leaked).toBe(0);
      expect(cpu.leaked).toBe(0);
      expect(Math.abs(wasm.value - cpu.value)).toBeLessThan(1e-5 * Math.abs(cpu.value));
      const rel = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]))) / Math.max(...b.map(Math.abs));
      for (let i = 0; i < 4; i++) expect(rel(wasm.grads[i], cpu.grads[i])).toBeLessThan(1e-5);
      for (let i = 0; i < 2; i++) expect(rel(wasm.running[i], cpu.running[i])).toBeLessThan(1e-6);
      if (!training) expect(wasm.running).toEqual([Array.from(data.rm), Array.from(data.rv)]);
    },
  );

  it('gelu: values and gradient on the fused kernels equal the composed ops on cpu', async () => {
    const data = new Rng(9).normalArray(3 * 5 * 7, 0, 3);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor3d(data, [3, 5, 7]);
      const probe = tf.tidy(() => tf.sin(x));
      const { value, grad } = tf.tidy(() => tf.valueAndGrad((xx: tf.Tensor) => tf.sum(tf.mul(gelu(xx), probe)))(x));
      const profile = await tf.profile(() => gelu(x));
      const out = { value: (await value.data())[0], grad: Array.from(await grad.data()), kernels: profile.kernelNames };
      tf.dispose([x, probe, value, grad, profile.result as tf.Tensor]);
      return out;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    expect(wasm.kernels).toContain(FUSED_GELU_KERNELS.forward);
    expect(wasm.kernels).not.toContain('Erf');
    expect(cpu.kernels).not.toContain(FUSED_GELU_KERNELS.forward);
    expect(Math.abs(wasm.value - cpu.value)).toBeLessThan(1e-5 * Math.abs(cpu.value));
    const scale = Math.max(...cpu.grad.map(Math.abs));
    for (let i = 0; i < cpu.grad.length; i++) expect(Math.abs(wasm.grad[i] - cpu.grad[i])).toBeLessThan(1e-5 * scale);
  });

  it('layerNorm: values and gradients (x, γ, β) on the fused kernels equal the composed ops on cpu', async () => {
    const rng = new Rng(10);
    const data = {
      x: rng.normalArray(3 * 5 * 24, 2, 3),
      g: rng.normalArray(24, 1, 0.5),
      b: rng.normalArray(24, 0, 0.5),
      p: rng.normalArray(3 * 5 * 24, 0, 1),
    };
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const [x, p] = [data.x, data.p].map((d) => tf.tensor3d(d, [3, 5, 24]));
      const [gamma, beta] = [data.g, data.b].map((d) => tf.tensor1d(d));
      const { value, grads } = tf.tidy(() =>
        tf.valueAndGrads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(xx, gg, bb), p)))([x, gamma, beta]),
      );
      const profile = await tf.profile(() => layerNorm(x, gamma, beta));
      const out = {
        value: (await value.data())[0],
        grads: await Promise.all(grads.map(async (t) => Array.from(await t.data()))),
        kernels: profile.kernelNames,
      };
      tf.dispose([x, p, gamma, beta, value, ...grads, profile.result as tf.Tensor]);
      return out;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    expect(wasm.kernels).toContain(FUSED_LAYER_NORM_KERNELS.forward);
    expect(cpu.kernels).not.toContain(FUSED_LAYER_NORM_KERNELS.forward);
    expect(Math.abs(wasm.value - cpu.value)).toBeLessThan(1e-5 * Math.abs(cpu.value) + 1e-5);
    for (let i = 0; i < 3; i++) {
      const scale = Math.max(...cpu.grads[i].map(Math.abs));
      for (let j = 0; j < cpu.grads[i].length; j++) expect(Math.abs(wasm.grads[i][j] - cpu.grads[i][j])).toBeLessThan(1e-5 * scale);
    }
  });

  it.each([
    ['resnet18', { width: 4 }, true],
    ['resnet18', { width: 4 }, false],
    ['vit', { dim: 16, depth: 2, heads: 2, mlpDim: 32 }, false],
  ] as const)('a %s %j gradient on wasm (training %s) equals the cpu one', async (arch, options, training) => {
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const m = createModel(createContainer({ seed: 5, use: [registerCoreModels] }), arch, options);
      const x = tf.tensor4d(new Rng(3).uniformArray(4 * 32 * 32 * 3, 0, 1), [4, 32, 32, 3]);
      const y = tf.tensor1d([1, 5, 7, 2], 'int32');
      const g = gradientsOf(m, x, y, { training });
      const out = new Map<string, number[]>();
      for (const [name, t] of g) out.set(name, Array.from(await t.data()));
      disposeVector(g);
      tf.dispose([x, y]);
      m.dispose();
      return out;
    };
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    expect([...wasm.keys()]).toEqual([...cpu.keys()]);
    for (const [name, want] of cpu) {
      const got = wasm.get(name)!;
      const scale = Math.max(...want.map(Math.abs));
      const diff = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
      expect(diff, name).toBeLessThan(1e-3 * scale + 1e-6);
    }
  });
});
