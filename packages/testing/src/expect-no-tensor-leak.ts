import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/**
 * Run `fn` and assert that it leaves exactly as many tensors alive as there were before.
 *
 * @param fn - the operation (sync or async); it must dispose everything it creates,
 *   including models (`model.dispose()`)
 * @returns what `fn` returned (a returned tensor counts as a leak: return plain values)
 * @throws the vitest assertion error when `tf.memory().numTensors` differs, naming both counts
 * @example
 * ```ts
 * await expectNoTensorLeak(async () => {
 *   const model = createModel(container, 'tiny');
 *   try { await runUnlearner(container, 'ga', { model, data }); } finally { model.dispose(); }
 * });
 * ```
 */
export async function expectNoTensorLeak<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  expect(after, `tensor leak: ${before} tensors before, ${after} after (${after - before} not disposed)`).toBe(before);
  return result;
}
