import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core's Node bundle registers no gradients; vitest inlines this ESM file into the same
// global registry, which the public gradient path (tf.grad) needs.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { expect } from 'vitest';

/** Max relative error allowed between wasm and cpu results: max|a − b| / max|b|. */
export const TOLERANCE = 1e-5;

export { randomData } from './fixtures/random-data.js';
import { randomData } from './fixtures/random-data.js';

export interface InputSpec {
  shape: number[];
  data: Float32Array | Int32Array;
  dtype?: 'float32' | 'int32';
}

export function spec(shape: number[], seed: number): InputSpec {
  return {
    shape,
    data: randomData(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  };
}

/** max|a − b| / max|b| (0 when both are all zeros). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

async function runOn(backend: string, inputs: InputSpec[], f: (...t: tf.Tensor[]) => tf.Tensor) {
  await tf.setBackend(backend);
  const ts = inputs.map((i) => tf.tensor(i.data, i.shape, i.dtype ?? 'float32'));
  const before = tf.memory() as tf.MemoryInfo & { numDataBuffers: number };
  const out = f(...ts);
  const shape = out.shape;
  const data = await out.data();
  out.dispose();
  const after = tf.memory() as tf.MemoryInfo & { numDataBuffers: number };
  for (const t of ts) t.dispose();
  return {
    shape,
    data: Array.from(data),
    leakedTensors: after.numTensors - before.numTensors,
    leakedBuffers: after.numDataBuffers - before.numDataBuffers,
  };
}

/**
 * Runs `reference` (default `f`) on the cpu backend and `f` on wasm, and asserts: same shape, relative error
 * below {@link TOLERANCE}, and no tensor or wasm buffer left behind on wasm.
 */
export async function expectSameOnWasm(
  inputs: InputSpec[],
  f: (...t: tf.Tensor[]) => tf.Tensor,
  reference: (...t: tf.Tensor[]) => tf.Tensor = f,
  tolerance = TOLERANCE,
): Promise<number> {
  const cpu = await runOn('cpu', inputs, reference);
  const wasm = await runOn('wasm', inputs, f);
  expect(wasm.shape).toEqual(cpu.shape);
  const err = relativeError(wasm.data, cpu.data);
  expect(err).toBeLessThan(tolerance);
  expect(wasm.leakedTensors).toBe(0);
  expect(wasm.leakedBuffers).toBe(0);
  return err;
}
