import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  UnlearnError,
  createContainer,
  createMemoryLogger,
  createModel,
  type MemoryLimit,
  initBackend,
  planTrainingMemory,
  registerCoreModels,
} from '@unlearnjs/core';
import { WASM_HEAP, wasmTrainingBackend } from '@unlearnjs/backend-wasm';

beforeAll(async () => {
  await initBackend('wasm', { logger: createMemoryLogger(), extensions: [wasmTrainingBackend] });
});

/** A limit of `bytes` planned at 85%, like the wasm heap's. */
const limit = (bytes: number): MemoryLimit => ({ bytes, planShare: 0.85, label: 'a test heap' });

/** The heap (plan share 0.85) in which a pass of the tiny ResNet holds ~20.5 images. */
async function heapForTwentyImages(
  model: ReturnType<typeof tinyResNet>,
  vars: tf.Variable[],
): Promise<{ heapBytes: number; baseBytes: number }> {
  const probe = await planTrainingMemory(model, 64, undefined, [32, 32, 3], vars, WASM_HEAP);
  return { heapBytes: (probe.baseBytes + 20.5 * probe.bytesPerImage) / 0.85, baseBytes: probe.baseBytes };
}

function tinyResNet() {
  return createModel(createContainer({ seed: 2, use: [registerCoreModels] }), 'resnet18', { width: 4 });
}

describe('planTrainingMemory', () => {
  it('keeps the batch when it fits and leaves weights and batch-norm buffers bit-identical', async () => {
    const model = tinyResNet();
    const before = new Map([...model.params, ...model.buffers].map(([n, v]) => [n, Array.from(v.dataSync())]));
    const tensors = tf.memory().numTensors;
    const plan = await planTrainingMemory(model, 16, undefined, [32, 32, 3], [...model.trainableVariables().values()], WASM_HEAP);
    expect(plan.microBatch).toBe(16);
    expect(plan.bytesPerImage).toBeGreaterThan(0);
    expect(plan.predictedBytes).toBe(plan.baseBytes + 16 * plan.bytesPerImage);
    for (const [n, v] of [...model.params, ...model.buffers]) expect(Array.from(v.dataSync())).toEqual(before.get(n));
    expect(tf.memory().numTensors).toBe(tensors);
    model.dispose();
  });

  it('predicts the peak of a larger pass from passes of 1 and 2 images (linear in the batch)', async () => {
    const model = tinyResNet();
    const vars = [...model.trainableVariables().values()];
    const plan = await planTrainingMemory(model, 8, undefined, [32, 32, 3], vars, WASM_HEAP);
    const start = tf.memory().numBytes;
    const info = await tf.profile(() =>
      tf.tidy(() => {
        const x = tf.zeros([8, 32, 32, 3]) as tf.Tensor4D;
        const { value, grads } = tf.variableGrads(() => tf.mean(model.forward(x, { training: true })) as tf.Scalar, vars);
        tf.dispose([value, ...Object.values(grads)]);
      }),
    );
    const actual = info.peakBytes - start + tf.memory().numBytes;
    expect(Math.abs(plan.predictedBytes - actual) / actual).toBeLessThan(0.05);
    model.dispose();
  });

  it('splits the batch into equal micro-batches when a pass would not fit the heap', async () => {
    const model = tinyResNet();
    const vars = [...model.trainableVariables().values()];
    const { heapBytes } = await heapForTwentyImages(model, vars);
    const plan = await planTrainingMemory(model, 64, undefined, [32, 32, 3], vars, limit(heapBytes));
    expect(plan.microBatch).toBe(16); // 64 in 4 passes of 16 (3 passes would need 22)
    expect(plan.predictedBytes).toBeLessThanOrEqual(heapBytes * 0.85);
    model.dispose();
  });

  it('refuses up front, with a coded error and a suggestion, a micro-batch or model that cannot fit', async () => {
    const model = tinyResNet();
    const vars = [...model.trainableVariables().values()];
    const { heapBytes, baseBytes } = await heapForTwentyImages(model, vars);
    const err = await planTrainingMemory(model, 64, 32, [32, 32, 3], vars, limit(heapBytes)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnlearnError);
    expect((err as UnlearnError).code).toBe('UNLEARN_OUT_OF_MEMORY');
    expect((err as UnlearnError).message).toMatch(/microBatch: 20 or less/);
    const none = await planTrainingMemory(model, 64, undefined, [32, 32, 3], vars, limit(baseBytes)).catch((e: unknown) => e);
    expect((none as UnlearnError).code).toBe('UNLEARN_OUT_OF_MEMORY');
    model.dispose();
  });
});
