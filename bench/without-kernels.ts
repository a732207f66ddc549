/**
 * A/B switch for before/after measurements: re-register @unlearnjs/backend-wasm's kernels
 * without the named ones (the stock tfjs-backend-wasm kernels run instead).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type WasmTrainingKernelName,
  listWasmTrainingKernels,
  registerWasmTrainingKernels,
  unregisterWasmTrainingKernels,
} from '@unlearnjs/backend-wasm';

/**
 * @param names - comma-separated kernel names to leave out (empty: change nothing)
 */
export async function withoutKernels(names: string): Promise<void> {
  const drop = names
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (drop.length === 0 || tf.getBackend() !== 'wasm') return;
  unregisterWasmTrainingKernels();
  registerWasmTrainingKernels({ kernels: listWasmTrainingKernels().filter((k) => !drop.includes(k)) as WasmTrainingKernelName[] });
  process.stderr.write(`[bench] without @unlearnjs/backend-wasm kernels: ${drop.join(', ')}\n`);
}
