/**
 * Loading and memory of the package's own SIMD kernels (`build/simd-kernels.wasm`, compiled from
 * `assembly/` by AssemblyScript).
 *
 * @remarks
 * The module has its own linear memory, separate from the tfjs heap: the kernels' callers copy
 * zero-padded operands in and the result out (a few MB per call, small next to the arithmetic),
 * so nothing here depends on the tfjs module's internals and the tfjs heap does not grow.
 * @packageDocumentation
 */

/** The exports of `simd-kernels.wasm`. */
export interface SimdKernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  filterGradient(...args: number[]): void;
  inputGradient(...args: number[]): void;
}

/** Why the SIMD kernels are or are not in use, for `simdKernelsStatus`. */
export type SimdKernelsStatus = { available: true; source: string } | { available: false; reason: string };

const WASM_URL = new URL('../../build/simd-kernels.wasm', import.meta.url);

let loaded: SimdKernelExports | null | undefined;
let wanted = true;

/** Turns the SIMD convolution-gradient kernels on or off (off: the XNNPACK formulations run). */
export function setSimdConvGradients(on: boolean): void {
  wanted = on;
}

/** Whether the kernels should use the SIMD convolution gradients (they may still be unavailable). */
export function simdConvGradientsWanted(): boolean {
  return wanted;
}
let status: SimdKernelsStatus = { available: false, reason: 'not loaded yet' };

type NodeFs = { readFileSync(path: URL): Uint8Array };

function readBundledBytes(): Uint8Array | string {
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown; env?: Record<string, string | undefined> } }).process;
  if (proc?.env?.UNLEARN_SIMD_KERNELS === 'off') return 'turned off by UNLEARN_SIMD_KERNELS=off';
  const fs = proc?.getBuiltinModule?.('node:fs') as NodeFs | undefined;
  if (fs === undefined) return 'not in Node: call loadSimdKernels(bytes) with the bytes of build/simd-kernels.wasm';
  try {
    return fs.readFileSync(WASM_URL);
  } catch {
    return `${WASM_URL.pathname} is missing: run \`pnpm --filter @unlearnjs/backend-wasm build:simd\``;
  }
}

function instantiate(bytes: Uint8Array): SimdKernelExports {
  const module = new WebAssembly.Module(bytes as BufferSource);
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort() {
        throw new Error('simd-kernels.wasm aborted');
      },
    },
  });
  return instance.exports as unknown as SimdKernelExports;
}

/**
 * Loads the SIMD kernels from the given bytes (browsers, bundlers), replacing any loaded ones.
 * In Node they load by themselves from the package's `build/` folder.
 */
export function loadSimdKernels(bytes: Uint8Array): void {
  loaded = instantiate(bytes);
  status = { available: true, source: 'loadSimdKernels' };
}

/** Whether the SIMD convolution-gradient kernels are in use, and if not, why. */
export function simdKernelsStatus(): SimdKernelsStatus {
  simdKernels();
  return status;
}

/** The loaded kernels, or null when they cannot be used (then the XNNPACK formulations run). */
export function simdKernels(): SimdKernelExports | null {
  if (loaded !== undefined) return loaded;
  const bytes = readBundledBytes();
  if (typeof bytes === 'string') {
    loaded = null;
    status = { available: false, reason: bytes };
    return null;
  }
  try {
    loaded = instantiate(bytes);
    status = { available: true, source: WASM_URL.pathname };
  } catch (err) {
    loaded = null;
    status = { available: false, reason: `simd-kernels.wasm did not instantiate: ${(err as Error).message}` };
  }
  return loaded;
}

/** Sequential 16-byte-aligned regions in the kernels' memory, grown on demand. */
export class SimdArena {
  private next: number;

  constructor(private readonly k: SimdKernelExports) {
    this.next = k.heapBase();
  }

  /** Reserves room for `floats` float32 values and returns the byte offset. */
  alloc(floats: number): number {
    const at = this.next;
    this.next = (at + floats * 4 + 15) & ~15;
    const need = this.next - this.k.memory.buffer.byteLength;
    if (need > 0) this.k.memory.grow(Math.ceil(need / 65536));
    return at;
  }

  /** A float32 view of `floats` values at `at` (valid until the next `alloc`). */
  view(at: number, floats: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, at, floats);
  }
}
