import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { makeBatchMatMul } from './kernels/batch-mat-mul.js';
import {
  FUSED_BATCH_NORM_GRAD_KERNEL,
  FUSED_BATCH_NORM_INFER_KERNEL,
  FUSED_BATCH_NORM_KERNEL,
  FUSED_GELU_KERNELS,
  FUSED_LAYER_NORM_KERNELS,
  FUSED_SGD_KERNEL,
  MASKED_CONV_KERNELS,
} from '@unlearnjs/core';
import { batchNormInfer, batchNormTrain, batchNormTrainGrad } from './kernels/batch-norm.js';
import { makeConv2D, makeMaskedConv2D } from './kernels/conv2d.js';
import {
  makeConv2DBackpropFilter,
  makeConv2DBackpropInput,
  makeDepthwiseBackpropFilter,
  makeDepthwiseBackpropInput,
  makeMaskedFilterGradient,
} from './kernels/conv-kernels.js';
import type { StockKernels } from './kernels/kernel-scope.js';
import { gelu, geluGrad } from './kernels/gelu.js';
import { makeIdentity } from './kernels/identity.js';
import { layerNorm, layerNormGrad } from './kernels/layer-norm.js';
import { makeLeadingAxesReduce } from './kernels/leading-axes-reduce.js';
import { sgdStep } from './kernels/sgd-step.js';
import { makeTile } from './kernels/tile.js';
import { makeUnsortedSegmentSum } from './kernels/unsorted-segment-sum.js';
import { simdKernels } from './simd/simd-module.js';

/** Names of the kernels this package can register for the 'wasm' backend. */
export type WasmTrainingKernelName =
  | 'Conv2D'
  | 'Conv2DBackpropFilter'
  | 'Conv2DBackpropInput'
  | 'DepthwiseConv2dNativeBackpropFilter'
  | 'DepthwiseConv2dNativeBackpropInput'
  | 'BatchMatMul'
  | 'Tile'
  | 'UnsortedSegmentSum'
  | 'Identity'
  | 'Sum'
  | 'Mean'
  | typeof FUSED_BATCH_NORM_KERNEL
  | typeof FUSED_BATCH_NORM_GRAD_KERNEL
  | typeof FUSED_BATCH_NORM_INFER_KERNEL
  | typeof FUSED_SGD_KERNEL
  | typeof FUSED_GELU_KERNELS.forward
  | typeof FUSED_GELU_KERNELS.gradient
  | typeof FUSED_LAYER_NORM_KERNELS.forward
  | typeof FUSED_LAYER_NORM_KERNELS.gradient
  | typeof MASKED_CONV_KERNELS.forward
  | typeof MASKED_CONV_KERNELS.filterGradient;

/** Options of {@link registerWasmTrainingKernels}. */
export interface WasmTrainingKernelsOptions {
  /**
   * Which kernels to register.
   * @defaultValue all of {@link listWasmTrainingKernels}
   */
  kernels?: readonly WasmTrainingKernelName[];
}

const BACKEND = 'wasm';

const FACTORIES: Record<WasmTrainingKernelName, (stock: StockKernels) => KernelFunc> = {
  Conv2D: makeConv2D,
  Conv2DBackpropFilter: makeConv2DBackpropFilter,
  Conv2DBackpropInput: makeConv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: makeDepthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: makeDepthwiseBackpropInput,
  BatchMatMul: makeBatchMatMul,
  Tile: makeTile,
  UnsortedSegmentSum: makeUnsortedSegmentSum,
  Identity: makeIdentity,
  Sum: (stock) => makeLeadingAxesReduce(stock, 'Sum'),
  Mean: (stock) => makeLeadingAxesReduce(stock, 'Mean'),
  [FUSED_BATCH_NORM_KERNEL]: () => batchNormTrain,
  [FUSED_BATCH_NORM_GRAD_KERNEL]: () => batchNormTrainGrad,
  [FUSED_BATCH_NORM_INFER_KERNEL]: () => batchNormInfer,
  [FUSED_SGD_KERNEL]: () => sgdStep,
  [FUSED_GELU_KERNELS.forward]: () => gelu,
  [FUSED_GELU_KERNELS.gradient]: () => geluGrad,
  [FUSED_LAYER_NORM_KERNELS.forward]: () => layerNorm,
  [FUSED_LAYER_NORM_KERNELS.gradient]: () => layerNormGrad,
  [MASKED_CONV_KERNELS.forward]: makeMaskedConv2D,
  [MASKED_CONV_KERNELS.filterGradient]: makeMaskedFilterGradient,
};

/**
 * Kernels that exist only to fuse work that callers can also compose from stock ops: registered
 * by default only where the SIMD module loads (their scalar fallback is slower than the stock
 * ops it replaces), so that callers compose instead.
 */
const FUSED: ReadonlySet<WasmTrainingKernelName> = new Set([
  FUSED_BATCH_NORM_KERNEL,
  FUSED_BATCH_NORM_GRAD_KERNEL,
  FUSED_BATCH_NORM_INFER_KERNEL,
  FUSED_SGD_KERNEL,
  FUSED_GELU_KERNELS.forward,
  FUSED_GELU_KERNELS.gradient,
  FUSED_LAYER_NORM_KERNELS.forward,
  FUSED_LAYER_NORM_KERNELS.gradient,
  MASKED_CONV_KERNELS.forward,
  MASKED_CONV_KERNELS.filterGradient,
]);

const ALL_NAMES = Object.keys(FACTORIES) as WasmTrainingKernelName[];

/** Stock kernels the replacements are built from; all ship with tfjs-backend-wasm 4.22. */
const BUILDING_BLOCKS = [
  'Add',
  'BatchMatMul',
  'Conv2D',
  'DepthwiseConv2dNative',
  'Fill',
  'Identity',
  'Mean',
  'PadV2',
  'Reshape',
  'Reverse',
  'ScatterNd',
  'Slice',
  'StridedSlice',
  'Sum',
  'Tile',
  'Transpose',
] as const;

/** What one registration replaced, so that it can be undone exactly. */
interface Registration {
  previous: Map<WasmTrainingKernelName, KernelConfig | undefined>;
}

let active: Registration | undefined;

/**
 * Registers the training kernels for the 'wasm' backend of TensorFlow.js.
 *
 * @param options - which kernels to register (default: all).
 * @returns the names of the kernels registered by this call (empty when already registered).
 * @throws Error with `code === 'WASM_BACKEND_NOT_LOADED'` when `@tensorflow/tfjs-backend-wasm`
 * has not been imported yet (its kernels are the building blocks; import it first).
 *
 * @remarks
 * Adds `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter/Input` and
 * `UnsortedSegmentSum` (missing in tfjs-backend-wasm 4.22, so conv nets cannot train) and
 * replaces `Conv2DBackpropInput`, `BatchMatMul` and `Tile` with faster equivalents, `Identity`
 * with a zero-copy one (the engine clones every tensor saved for the backward pass) and `Sum`
 * and `Mean` with a transpose-free path for reductions over leading axes. Convolutions, dense
 * products and reductions run on the package's SIMD kernels where they are faster, otherwise on
 * stock wasm kernels (Conv2D, Transpose, Pad, …) called through their kernel functions. Where
 * the SIMD module loads it also adds `UnlearnBatchNormTrain`, `UnlearnBatchNormTrainGrad` and
 * `UnlearnBatchNormInfer`, a fused BatchNorm (+ residual + ReLU) that @unlearnjs/core's
 * `batchNorm` uses when registered, and `UnlearnSgdStep`, the whole SGD update of a parameter that core's
 * `SgdOptimizer` uses likewise, `UnlearnGelu`/`UnlearnGeluGrad` for core's `gelu` and `UnlearnLayerNorm`/`UnlearnLayerNormGrad`
 * for its `layerNorm` (in browsers, call `loadSimdKernels` first). Importing this package registers nothing; calling this
 * function a second time is a no-op until {@link unregisterWasmTrainingKernels} is called. The
 * kernels follow tfjs semantics: returned tensors belong to the engine as usual.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { registerWasmTrainingKernels } from '@unlearnjs/backend-wasm';
 *
 * registerWasmTrainingKernels();
 * await tf.setBackend('wasm');
 * ```
 */
export function registerWasmTrainingKernels(options: WasmTrainingKernelsOptions = {}): WasmTrainingKernelName[] {
  if (active !== undefined) return [];
  const names = options.kernels ?? ALL_NAMES.filter((n) => !FUSED.has(n) || simdKernels() !== null);
  for (const name of names) {
    if (!(name in FACTORIES)) {
      throw Object.assign(new Error(`Unknown wasm training kernel '${name}'; choose among ${ALL_NAMES.join(', ')}.`), {
        code: 'WASM_UNKNOWN_KERNEL',
      });
    }
  }
  const stock = new Map<string, KernelFunc>();
  const missing: string[] = [];
  for (const name of BUILDING_BLOCKS) {
    const config = tf.getKernel(name, BACKEND);
    if (config === undefined) missing.push(name);
    else stock.set(name, config.kernelFunc);
  }
  if (missing.length > 0) {
    throw Object.assign(
      new Error(
        `The 'wasm' backend kernels ${missing.join(', ')} are not registered: import '@tensorflow/tfjs-backend-wasm' before calling registerWasmTrainingKernels().`,
      ),
      { code: 'WASM_BACKEND_NOT_LOADED' },
    );
  }
  const conv2DBackpropInput = tf.getKernel('Conv2DBackpropInput', BACKEND);
  if (conv2DBackpropInput !== undefined) stock.set('Conv2DBackpropInput', conv2DBackpropInput.kernelFunc);

  const previous = new Map<WasmTrainingKernelName, KernelConfig | undefined>();
  for (const name of names) {
    const old = tf.getKernel(name, BACKEND);
    previous.set(name, old);
    if (old !== undefined) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: FACTORIES[name](stock),
      // Keep the replaced kernel's C++ bindings initialised: the engine only runs setupFunc of
      // kernels registered when the backend starts, and ours call the stock ones.
      ...(old?.setupFunc !== undefined ? { setupFunc: old.setupFunc } : {}),
    });
  }
  active = { previous };
  return [...names];
}

/**
 * Removes the kernels registered by {@link registerWasmTrainingKernels} and puts back the ones
 * they replaced (the stock wasm kernels, or whatever was registered before).
 *
 * @returns the names of the kernels removed (empty when none were registered).
 */
export function unregisterWasmTrainingKernels(): WasmTrainingKernelName[] {
  if (active === undefined) return [];
  const removed: WasmTrainingKernelName[] = [];
  for (const [name, old] of active.previous) {
    if (tf.getKernel(name, BACKEND) !== undefined) tf.unregisterKernel(name, BACKEND);
    if (old !== undefined) tf.registerKernel(old);
    removed.push(name);
  }
  active = undefined;
  return removed;
}

/**
 * Lists the kernels this package provides for 'wasm'.
 *
 * @returns kernel names, in registration order (a fresh array the caller may keep).
 */
export function listWasmTrainingKernels(): WasmTrainingKernelName[] {
  return [...ALL_NAMES];
}

/**
 * Whether {@link registerWasmTrainingKernels} is in effect.
 *
 * @returns true between a register call and the matching unregister call.
 */
export function areWasmTrainingKernelsRegistered(): boolean {
  return active !== undefined;
}
