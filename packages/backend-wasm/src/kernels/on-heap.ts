// Running SIMD kernels on tensors where they lie on the tfjs wasm heap (no copies).
import { util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './kernel-scope.js';
import { type HeapKernels, simdKernelsOnHeap } from '../simd/heap-kernels.js';

/** The tfjs heap's memory: shared in the threaded build, the module's export otherwise. */
function heapMemory(backend: WasmBackendLike): WebAssembly.Memory | undefined {
  return backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
}

/** The SIMD kernels bound to the backend's heap (batch norm, SGD), or null (callers then run scalar JS). */
export function heapKernels(backend: WasmBackendLike): HeapKernels | null {
  const memory = heapMemory(backend);
  return memory === undefined ? null : simdKernelsOnHeap(memory, (bytes) => backend.wasm._malloc(bytes));
}

/** Scratch on the tfjs heap for the duration of one kernel call (freed by `free`). */
export class HeapScratch {
  private readonly blocks: number[] = [];
  constructor(private readonly backend: WasmBackendLike) {}
  /** Byte offset of `floats` float32 values, 16-byte aligned. */
  alloc(floats: number): number {
    const bytes = floats * 4 + 16;
    const at = this.backend.wasm._malloc(bytes);
    if (!at) {
      // malloc's null: writing through it would corrupt the start of the heap.
      throw Object.assign(
        new Error(`The wasm heap has no room for ${bytes} bytes of kernel scratch (its limit is 4 GiB); use a smaller batch.`),
        {
          code: 'WASM_OUT_OF_MEMORY',
        },
      );
    }
    this.blocks.push(at);
    // Arithmetic, not `& ~15`: heap offsets reach past 2^31, where JS bit operations go negative.
    return Math.ceil(at / 16) * 16;
  }
  /** Byte offset of a copy of `values` (per-channel coefficients a kernel reads). */
  put(values: Float32Array): number {
    const at = this.alloc(values.length);
    this.view(at, values.length).set(values);
    return at;
  }
  /** A float32 view of `floats` values at `at` (made after every alloc: the heap may grow). */
  view(at: number, floats: number): Float32Array {
    return new Float32Array(this.backend.wasm.HEAPU8.buffer, at, floats);
  }
  free(): void {
    for (const at of this.blocks) this.backend.wasm._free(at);
  }
}

/** Byte offset of a tensor's data on the heap. */
export function offsetOf(backend: WasmBackendLike, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset;
}

/** A tensor as a row-major [rows, cols] matrix over its last axis (what the norms normalise). */
export function lastAxisRows(t: TensorInfo): { rows: number; cols: number } {
  const cols = t.shape[t.shape.length - 1];
  return { rows: util.sizeFromShape(t.shape) / cols, cols };
}

/**
 * Adds up the per-block float32 column sums `[blocks, cols]` that the heap kernels write (one row
 * per SUM_BLOCK_ROWS rows of input), in float64 and in block order, times `scale`: the same
 * result however the rows were split over threads.
 */
export function addBlocks(sums: Float32Array, blocks: number, cols: number, scale: number): Float64Array {
  const out = new Float64Array(cols);
  for (let b = 0; b < blocks; b++) {
    const at = b * cols;
    for (let c = 0; c < cols; c++) out[c] += sums[at + c];
  }
  for (let c = 0; c < cols; c++) out[c] *= scale;
  return out;
}
