import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import {
  areWasmTrainingKernelsRegistered,
  listWasmTrainingKernels,
  registerWasmTrainingKernels,
  unregisterWasmTrainingKernels,
} from '@unlearnjs/backend-wasm';

const NAMES = [
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'BatchMatMul',
  'Tile',
  'UnsortedSegmentSum',
  'Identity',
  'Sum',
  'Mean',
  // The fused BatchNorm pair: new kernels (registered by default where the SIMD module loads).
  'UnlearnBatchNormTrain',
  'UnlearnBatchNormTrainGrad',
  'UnlearnBatchNormInfer',
  'UnlearnSgdStep',
  'UnlearnGelu',
  'UnlearnGeluGrad',
  'UnlearnLayerNorm',
  'UnlearnLayerNormGrad',
  'UnlearnMaskedConv2D',
  'UnlearnConv2DMaskedFilterGrad',
];

// Stock configs as the wasm backend registered them, before this package does anything.
const stock = new Map(NAMES.map((n) => [n, tf.getKernel(n, 'wasm')]));

describe('registerWasmTrainingKernels', () => {
  it('importing the package registers nothing', () => {
    expect(areWasmTrainingKernelsRegistered()).toBe(false);
    expect(stock.get('Conv2DBackpropFilter')).toBeUndefined();
    expect(stock.get('DepthwiseConv2dNativeBackpropFilter')).toBeUndefined();
    expect(stock.get('BatchMatMul')).toBeDefined();
    for (const n of NAMES) expect(tf.getKernel(n, 'wasm')).toBe(stock.get(n));
  });

  it('lists the kernels it provides', () => {
    expect(listWasmTrainingKernels()).toEqual(NAMES);
  });

  it('registers every kernel once; a second call is a no-op', () => {
    expect(registerWasmTrainingKernels()).toEqual(NAMES);
    const first = new Map(NAMES.map((n) => [n, tf.getKernel(n, 'wasm')]));
    for (const n of NAMES) {
      expect(first.get(n)).toBeDefined();
      expect(first.get(n)).not.toBe(stock.get(n));
      expect(first.get(n)?.backendName).toBe('wasm');
    }
    expect(registerWasmTrainingKernels()).toEqual([]);
    for (const n of NAMES) expect(tf.getKernel(n, 'wasm')).toBe(first.get(n));
    expect(areWasmTrainingKernelsRegistered()).toBe(true);
  });

  it('unregister restores exactly the previous kernels', () => {
    expect(unregisterWasmTrainingKernels()).toEqual(NAMES);
    for (const n of NAMES) expect(tf.getKernel(n, 'wasm')).toBe(stock.get(n));
    expect(areWasmTrainingKernelsRegistered()).toBe(false);
    expect(unregisterWasmTrainingKernels()).toEqual([]);
  });

  it('registers a chosen subset only', () => {
    expect(registerWasmTrainingKernels({ kernels: ['Tile'] })).toEqual(['Tile']);
    expect(tf.getKernel('Tile', 'wasm')).not.toBe(stock.get('Tile'));
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(stock.get('BatchMatMul'));
    unregisterWasmTrainingKernels();
    expect(tf.getKernel('Tile', 'wasm')).toBe(stock.get('Tile'));
  });

  it('rejects an unknown kernel name with a code', () => {
    expect(() => registerWasmTrainingKernels({ kernels: ['Nope' as never] })).toThrow(
      expect.objectContaining({ code: 'WASM_UNKNOWN_KERNEL' }),
    );
    expect(areWasmTrainingKernelsRegistered()).toBe(false);
  });

  it('kernel calls leak neither tensors nor wasm buffers', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const x = tf.randomUniform([2, 9, 9, 3], -1, 1, 'float32', 1);
    const w = tf.randomUniform([3, 3, 3, 4], -1, 1, 'float32', 2);
    const dy = tf.randomUniform([2, 5, 5, 4], -1, 1, 'float32', 3);
    const a = tf.randomUniform([3, 6, 5], -1, 1, 'float32', 4);
    const g = tf.randomUniform([1, 1, 1, 4], -1, 1, 'float32', 5);
    const g4 = tf.randomUniform([2, 5, 5, 3], -1, 1, 'float32', 6);
    const w1 = tf.randomUniform([3, 3, 3, 1], -1, 1, 'float32', 7);
    const ids = tf.tensor1d([0, 3, 3], 'int32');
    const calls: Array<() => tf.Tensor> = [
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy },
            { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] },
          ) as tf.Tensor,
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy, filter: w },
            { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 9, 9, 3] },
          ) as tf.Tensor,
      () => tf.matMul(a, a, true, false),
      () => tf.tile(g, [2, 3, 3, 1]),
      () =>
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropFilter',
            { x, dy: g4 },
            { strides: 2, dilations: 1, pad: 'same', filterShape: [3, 3, 3, 1] },
          ) as tf.Tensor,
      () =>
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropInput',
            { dy: g4, filter: w1 },
            { strides: 2, dilations: 1, pad: 'same', inputShape: [2, 9, 9, 3] },
          ) as tf.Tensor,
      () => tf.engine().runKernel('UnsortedSegmentSum', { x: a, segmentIds: ids }, { numSegments: 4 }) as tf.Tensor,
      () => tf.sum(x, [0, 1, 2]),
      () => tf.mean(a, [0, 1], true),
      () => tf.clone(x),
    ];
    for (const call of calls) {
      call().dispose(); // warm-up: XNNPACK operators and cwraps are created once
      const before = tf.memory() as tf.MemoryInfo & { numDataBuffers: number };
      const out = call();
      const mid = tf.memory() as tf.MemoryInfo & { numDataBuffers: number };
      out.dispose();
      const after = tf.memory() as tf.MemoryInfo & { numDataBuffers: number };
      expect(mid.numTensors - before.numTensors).toBe(1);
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numDataBuffers).toBe(before.numDataBuffers);
    }
    tf.dispose([x, w, dy, a, g, g4, w1, ids]);
    unregisterWasmTrainingKernels();
  });
});
