/**
 * Training kernels for the TensorFlow.js wasm backend: conv and depthwise-conv gradients, convs
 * and dense-layer products on the package's own SIMD kernels ({@link simdKernelsStatus}), fast
 * transposed and batched matMul, broadcast Tile and UnsortedSegmentSum on the stock
 * XNNPACK-backed kernels, and {@link enableWasmThreads} to run the backend (and the SIMD
 * kernels) with several threads in Node. Importing this module registers nothing: hand
 * {@link wasmTrainingBackend} to @unlearnjs/core's `initBackend`, or call
 * {@link registerWasmTrainingKernels} yourself.
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
export { leadingReduction } from './kernels/leading-axes-reduce.js';
export { MAX_WASM_THREADS, enableWasmThreads } from './enable-wasm-threads.js';
export type { WasmThreadsErrorCode, WasmThreadsOptions, WasmThreadsResult } from './enable-wasm-threads.js';
export { loadSimdKernels, setSimdConvGradients, setSimdThreads, simdKernelsStatus } from './simd/simd-module.js';
export type { SimdKernelsStatus } from './simd/simd-module.js';
export { SPARSE_CONV_MAX_DENSITY, setSparseConvMaxDensity } from './simd/sparse-conv-simd.js';
export { WASM_HEAP, wasmTrainingBackend } from './wasm-training-backend.js';
