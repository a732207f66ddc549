import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { Rng, createContainer, createModel } from '@unlearnjs/core';
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
