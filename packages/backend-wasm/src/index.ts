/**
 * Training kernels for the TensorFlow.js wasm backend: conv and depthwise-conv gradients, convs
 * and dense-layer products on the package's own SIMD kernels ({@link simdKernelsStatus}), fast
 * transposed and batched matMul, broadcast Tile and UnsortedSegmentSum on the stock
 * XNNPACK-backed kernels, and {@link enableWasmThreads} to run the backend (and the SIMD
 * kernels) with several threads in Node. Importing this module registers nothing; call
 * {@link registerWasmTrainingKernels}.
 *
 * @packageDocumentation
 */
export {
  areWasmTrainingKernelsRegistered,
  listWasmTrainingKernels,
  registerWasmTrainingKernels,
  unregisterWasmTrainingKernels,
} from './register-wasm-training-kernels.js';
export type { WasmTrainingKernelName, WasmTrainingKernelsOptions } from './register-wasm-training-kernels.js';
export { tileAsBroadcast } from './kernels/tile.js';
export { BATCH_NORM_INFER, BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from './kernels/batch-norm.js';
export { SGD_STEP } from './kernels/sgd-step.js';
export { GELU, GELU_GRAD } from './kernels/gelu.js';
export { LAYER_NORM, LAYER_NORM_GRAD } from './kernels/layer-norm.js';
export { leadingReduction } from './kernels/leading-axes-reduce.js';
export { MAX_WASM_THREADS, enableWasmThreads } from './enable-wasm-threads.js';
export type { WasmThreadsErrorCode, WasmThreadsOptions, WasmThreadsResult } from './enable-wasm-threads.js';
export { loadSimdKernels, setSimdConvGradients, setSimdThreads, simdKernelsStatus } from './simd/simd-module.js';
export type { SimdKernelsStatus } from './simd/simd-module.js';
