import { isUnlearnError } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { MAX_WASM_THREADS, WASM_HEAP, wasmTrainingBackend } from '@unlearnjs/backend-wasm';

describe('wasmTrainingBackend (the extension core is handed)', () => {
  it('extends the wasm backend, with its thread limit and its 4 GiB heap to plan for', () => {
    expect(wasmTrainingBackend.backend).toBe('wasm');
    expect(wasmTrainingBackend.threads?.max).toBe(MAX_WASM_THREADS);
    expect(wasmTrainingBackend.memory).toBe(WASM_HEAP);
    expect(WASM_HEAP.bytes).toBe(4 * 1024 ** 3);
  });

  it('turns a heap abort into UNLEARN_OUT_OF_MEMORY with the micro-batch to use, and leaves other errors alone', () => {
    const abort = new WebAssembly.RuntimeError('Aborted(). Build with -sASSERTIONS for more info.');
    const err = wasmTrainingBackend.translateError?.(abort, { batch: 32 });
    expect(isUnlearnError(err, 'UNLEARN_OUT_OF_MEMORY')).toBe(true);
    expect(err?.message).toMatch(/microBatch: 8/);
    expect(err?.cause).toBe(abort);
    expect(wasmTrainingBackend.translateError?.(abort, { batch: 32, microBatch: 8 })?.message).toMatch(/micro-batch 8.*microBatch: 2/);
    expect(wasmTrainingBackend.translateError?.(new Error('shapes do not match'), { batch: 32 })).toBeUndefined();
  });

  it("reports a thread count enableWasmThreads refuses as core's UNLEARN_INVALID_OPTIONS", async () => {
    const err = await wasmTrainingBackend.threads?.enable(MAX_WASM_THREADS + 1).catch((e: unknown) => e);
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    expect((err as { details: { wasmCode?: string } }).details.wasmCode).toBe('WASM_THREADS_INVALID_OPTIONS');
  });
});
