import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  type DependencyContainer,
  Model,
  type ModelDefinition,
  type ProgressReporter,
  type Rng,
  createContainer,
  createMemoryLogger,
} from '@unlearnjs/core';
import { registerTinyModel } from '@unlearnjs/testing';
import { beforeAll } from 'vitest';
import { registerPruningImp } from '@unlearnjs/pruning-imp';

/** Select the cpu backend for the file's tests. */
export function useCpu(): void {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });
}

/** A run container with this package and the tiny model registered. */
export function container(seed = 0, extra: { progress?: ProgressReporter; signal?: AbortSignal } = {}): DependencyContainer {
  return createContainer({ seed, use: [registerTinyModel, registerPruningImp], logger: createMemoryLogger(), ...extra });
}

/**
 * conv 3×3 stride 4 (3 → 4 channels) → running-mean "BatchNorm" (centres by the batch mean in
 * training, by the running mean in eval; updates the buffer like PyTorch) → relu → dense 10.
 * Prunable: both kernels. Its buffer lets tests check that rewinding restores buffers too.
 */
export function bnModel(rng: Rng): Model {
  const def: ModelDefinition = {
    arch: 'tiny-bn',
    config: {},
    params: [
      { name: 'conv.kernel', shape: [3, 3, 3, 4], init: 'he-normal' },
      { name: 'bn.beta', shape: [4], init: 'zeros' },
      { name: 'dense.kernel', shape: [256, 10], init: 'glorot-uniform' },
      { name: 'dense.bias', shape: [10], init: 'zeros' },
    ],
    buffers: [{ name: 'bn.runningMean', shape: [4], init: 'zeros' }],
    prunable: ['conv.kernel', 'dense.kernel'],
    classifier: { kernel: 'dense.kernel', bias: 'dense.bias' },
    forward(x, ctx) {
      return tf.tidy(() => {
        const h = tf.conv2d(tf.mul(tf.sub(x, 0.5), 4) as tf.Tensor4D, ctx.w('conv.kernel') as tf.Tensor4D, 4, 'same');
        let mean: tf.Tensor = ctx.buffer('bn.runningMean');
        if (ctx.training) {
          mean = tf.mean(h, [0, 1, 2]);
          const rm = ctx.buffer('bn.runningMean');
          const m = mean;
          tf.tidy(() => rm.assign(tf.add(tf.mul(rm, 0.9), tf.mul(m, 0.1))));
        }
        const z = tf.relu(tf.add(tf.sub(h, mean), ctx.w('bn.beta')));
        const flat = tf.reshape(z, [x.shape[0], 256]) as tf.Tensor2D;
        return tf.add(tf.matMul(flat, ctx.w('dense.kernel') as tf.Tensor2D), ctx.w('dense.bias')) as tf.Tensor2D;
      });
    },
  };
  return new Model(def, rng);
}

/**
 * A bias-free linear network on a `[1, 1, inDim, 1]` image: y = x·W1·W2 (for SynFlow's closed form).
 */
export function linearModel(rng: Rng, inDim = 3, hidden = 4, out = 2): Model {
  const def: ModelDefinition = {
    arch: 'linear',
    config: { inDim, hidden, out },
    params: [
      { name: 'l1.kernel', shape: [inDim, hidden], init: 'normal:1' },
      { name: 'l2.kernel', shape: [hidden, out], init: 'normal:1' },
    ],
    buffers: [],
    prunable: ['l1.kernel', 'l2.kernel'],
    classifier: { kernel: 'l2.kernel' },
    forward(x, ctx) {
      return tf.tidy(() => {
        const flat = tf.reshape(x, [x.shape[0], inDim]) as tf.Tensor2D;
        return tf.matMul(tf.matMul(flat, ctx.w('l1.kernel') as tf.Tensor2D), ctx.w('l2.kernel') as tf.Tensor2D);
      });
    },
  };
  return new Model(def, rng);
}

/** Set a model's weights from plain arrays. */
export function setWeights(model: Model, values: Record<string, ArrayLike<number>>): void {
  const map = new Map<string, tf.Tensor>();
  for (const [n, v] of Object.entries(values)) map.set(n, tf.tensor(Float32Array.from(v), model.params.get(n)?.shape));
  try {
    model.load(map);
  } finally {
    for (const t of map.values()) t.dispose();
  }
}

/** A weight or mask as a plain array. */
export function values(t: tf.Tensor | undefined): Float32Array {
  if (!t) throw new Error('missing tensor');
  return Float32Array.from(t.dataSync() as ArrayLike<number>);
}

/** A reporter that aborts `controller` after `afterTicks` batch ticks. */
export function abortingProgress(controller: AbortController, afterTicks: number): ProgressReporter {
  let ticks = 0;
  return {
    start: () => ({
      tick: () => {
        ticks++;
        if (ticks === afterTicks) controller.abort(new Error('test abort'));
      },
      end: () => {},
    }),
  };
}

/** A reporter that records each task's label and the lr of its ticks. */
export function recordingProgress(): ProgressReporter & { tasks: Array<{ label: string; lr: number[] }> } {
  const tasks: Array<{ label: string; lr: number[] }> = [];
  return {
    tasks,
    start: (label) => {
      const task = { label, lr: [] as number[] };
      tasks.push(task);
      return {
        tick: (_n, metrics) => {
          if (metrics && typeof metrics.lr === 'number') task.lr.push(metrics.lr);
        },
        end: () => {},
      };
    },
  };
}
