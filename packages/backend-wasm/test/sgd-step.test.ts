import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, setSimdConvGradients, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { FUSED_SGD_KERNEL as SGD_STEP } from '@unlearnjs/core';
import { randomData } from './helpers.js';

let registered: string[] = [];
beforeAll(async () => {
  await tf.setBackend('wasm');
  registered = registerWasmTrainingKernels();
});
afterAll(() => {
  unregisterWasmTrainingKernels();
});

interface Case {
  n: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  masked: boolean;
}

/** The optimiser's composed ops (@unlearnjs/core SgdOptimizer), on the current backend. */
function composed(w: tf.Tensor, dw: tf.Tensor, buf: tf.Tensor | undefined, mask: tf.Tensor | undefined, lr: number, c: Case): tf.Tensor[] {
  return tf.tidy(() => {
    let g = c.weightDecay !== 0 ? tf.add(dw, tf.mul(w, c.weightDecay)) : dw;
    if (mask) g = tf.mul(g, mask);
    let update = g;
    let nb: tf.Tensor | undefined;
    if (buf) {
      nb = tf.add(tf.mul(buf, c.momentum), g);
      update = c.nesterov ? tf.add(g, tf.mul(nb, c.momentum)) : nb;
    }
    let next = tf.sub(w, tf.mul(update, lr));
    if (mask) next = tf.mul(next, mask);
    return nb ? [next, nb] : [next];
  });
}

function fused(w: tf.Tensor, dw: tf.Tensor, buf: tf.Tensor | undefined, mask: tf.Tensor | undefined, lr: number, c: Case): tf.Tensor[] {
  const inputs: tf.NamedTensorMap = { w, dw, ...(buf ? { buf } : {}), ...(mask ? { mask } : {}) };
  const attrs = { lr, momentum: c.momentum, weightDecay: c.weightDecay, nesterov: c.nesterov };
  return tf.engine().runKernel(SGD_STEP, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

async function values(ts: tf.Tensor[]): Promise<number[][]> {
  const out = await Promise.all(ts.map(async (t) => Array.from(await t.data())));
  tf.dispose(ts);
  return out;
}

const cases: Case[] = [
  { n: 37, momentum: 0.9, weightDecay: 5e-4, nesterov: false, masked: true },
  { n: 1000, momentum: 0.9, weightDecay: 5e-4, nesterov: true, masked: false },
  { n: 64, momentum: 0, weightDecay: 5e-4, nesterov: false, masked: true },
  { n: 3, momentum: 0.5, weightDecay: 0, nesterov: false, masked: false },
  { n: 4099, momentum: 0, weightDecay: 0, nesterov: false, masked: false },
];

describe('UnlearnSgdStep equals the composed SGD ops on the cpu backend bit for bit', () => {
  it('is registered by default where the SIMD kernels load', () => {
    expect(registered).toContain(SGD_STEP);
  });

  for (const path of ['SIMD on the tfjs heap', 'scalar JS'] as const) {
    it.each(cases)(`${path}: %j`, async (c) => {
      setSimdConvGradients(path === 'SIMD on the tfjs heap');
      try {
        const lr = 0.037;
        const data = { w: randomData(c.n, 1), dw: randomData(c.n, 2), buf: randomData(c.n, 3) };
        const maskData = Float32Array.from(randomData(c.n, 4), (v) => (v > 0 ? 1 : 0));
        const run = async (backend: string, f: typeof fused) => {
          await tf.setBackend(backend);
          const before = tf.memory().numTensors;
          const w = tf.tensor1d(data.w);
          const dw = tf.tensor1d(data.dw);
          const buf = c.momentum !== 0 ? tf.tensor1d(data.buf) : undefined;
          const mask = c.masked ? tf.tensor1d(maskData) : undefined;
          const out = await values(f(w, dw, buf, mask, lr, c));
          tf.dispose([w, dw, buf, mask].filter((t) => t !== undefined) as tf.Tensor[]);
          expect(tf.memory().numTensors).toBe(before);
          return out;
        };
        const want = await run('cpu', composed);
        const got = await run('wasm', fused);
        expect(got).toHaveLength(c.momentum !== 0 ? 2 : 1);
        expect(got).toEqual(want);
        // A masked weight is ±0 (the composed ops give −0 for a negative weight times 0 too).
        if (c.masked) for (let i = 0; i < c.n; i++) if (maskData[i] === 0) expect(got[0][i] === 0).toBe(true);
      } finally {
        setSimdConvGradients(true);
      }
    });
  }
});
