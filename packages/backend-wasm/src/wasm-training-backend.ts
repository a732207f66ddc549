import { type BackendExtension, type FailedStep, type MemoryLimit, UnlearnError } from '@unlearnjs/core';
import { MAX_WASM_THREADS, enableWasmThreads } from './enable-wasm-threads.js';
import { registerWasmTrainingKernels } from './register-wasm-training-kernels.js';
import { simdKernelsStatus } from './simd/simd-module.js';

/**
 * The wasm heap that training plans for: 32-bit, so 4 GiB at most. A pass is planned to use 85%
 * of it: the engine's peak tensor bytes were within 0.7–1.04× of the heap actually reached at
 * batch 64 (ResNet-18 w16 446 vs 429 MB, w64 1,871 vs 1,819 MB, ViT 192×6 2,943 vs 2,082 MB:
 * views count twice); the rest covers the kernels' own temporaries, XNNPACK workspaces and
 * allocator fragmentation.
 */
export const WASM_HEAP: MemoryLimit = Object.freeze({ bytes: 4 * 1024 ** 3, planShare: 0.85, label: 'the 4 GiB wasm heap' });

/** How the wasm module fails when its heap is full (it aborts, or a call lands out of bounds). */
const HEAP_FAILURE = /Aborted\(|out of memory|function signature mismatch|memory access out of bounds|Cannot enlarge memory/i;

/** The {@link enableWasmThreads} codes that are the caller's mistake, not a missing runtime feature. */
const CALLER_MISTAKES = new Set(['WASM_THREADS_INVALID_OPTIONS', 'WASM_ALREADY_INITIALISED']);

async function enableThreads(threads: number): Promise<{ threads: number; warning?: string }> {
  try {
    const r = await enableWasmThreads({ threads });
    return r.warning === undefined ? { threads: r.threads } : { threads: r.threads, warning: r.warning };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== undefined && CALLER_MISTAKES.has(code)) {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', (err as Error).message, { details: { threads, wasmCode: code }, cause: err });
    }
    throw err;
  }
}

function describeSimdKernels(): string {
  const s = simdKernelsStatus();
  if (!s.available) return `own SIMD kernels off: ${s.reason}`;
  return `own SIMD kernels${s.fusedMultiplyAdd ? ' with FMA' : ''}, ${s.threads} thread${s.threads === 1 ? '' : 's'}`;
}

function translateError(err: unknown, step: FailedStep): UnlearnError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (!HEAP_FAILURE.test(message)) return undefined;
  const { batch, microBatch } = step;
  const suggestion = Math.max(1, Math.floor((microBatch ?? batch) / 4));
  return new UnlearnError(
    'UNLEARN_OUT_OF_MEMORY',
    `The wasm backend ran out of its 4 GiB heap at ${microBatch ? `micro-batch ${microBatch}` : `batch ${batch}`}. Train with microBatch: ${suggestion} (same effective batch, gradients accumulated), a smaller model, or another backend; the wasm module cannot be used again in this process, so restart and resume from the last checkpoint.`,
    { details: { batch, microBatch, suggestion }, cause: err },
  );
}

/**
 * This package as a backend extension for @unlearnjs/core: pass it to
 * `initBackend(request, { extensions: [wasmTrainingBackend] })`, and when the wasm backend is
 * chosen it gets the training kernels ({@link registerWasmTrainingKernels}), threads
 * ({@link enableWasmThreads}, up to {@link MAX_WASM_THREADS}), training planned to fit
 * {@link WASM_HEAP}, and a heap abort turned into `UNLEARN_OUT_OF_MEMORY` with the micro-batch
 * to use.
 *
 * @example
 * ```ts
 * import { createContainer, initBackend, registerCoreModels } from '@unlearnjs/core';
 * import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
 *
 * const backend = await initBackend('auto', { extensions: [wasmTrainingBackend], threads: 2 });
 * const container = createContainer({ backend, use: [registerCoreModels] });
 * ```
 */
export const wasmTrainingBackend: BackendExtension = Object.freeze({
  backend: 'wasm',
  name: '@unlearnjs/backend-wasm',
  registerKernels: () => registerWasmTrainingKernels(),
  describe: describeSimdKernels,
  threads: Object.freeze({ max: MAX_WASM_THREADS, enable: enableThreads }),
  memory: WASM_HEAP,
  translateError,
});
