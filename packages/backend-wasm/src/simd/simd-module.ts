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
export type SimdKernelsStatus = { available: true; source: string; fusedMultiplyAdd: boolean } | { available: false; reason: string };

const BASELINE_URL = new URL('../../build/simd-kernels.wasm', import.meta.url);
const RELAXED_URL = new URL('../../build/simd-kernels-relaxed.wasm', import.meta.url);

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

type NodeProcess = { getBuiltinModule?(id: string): unknown; env?: Record<string, string | undefined> };
type NodeFs = { readFileSync(path: URL): Uint8Array };
type NodeV8 = { setFlagsFromString(flags: string): void };

function nodeProcess(): NodeProcess | undefined {
  return (globalThis as { process?: NodeProcess }).process;
}

/**
 * Whether the relaxed-SIMD build can be compiled here. Node 22+ (V8 11.4+) validates it as is;
 * Node 20's V8 has relaxed SIMD behind `--experimental-wasm-relaxed-simd`, which is turned on
 * here (it only adds instructions to what wasm may use) unless UNLEARN_SIMD_KERNELS=baseline.
 */
function relaxedSimdUsable(bytes: Uint8Array, proc: NodeProcess | undefined): boolean {
  if (WebAssembly.validate(bytes as BufferSource)) return true;
  if (proc?.env?.UNLEARN_SIMD_KERNELS === 'baseline') return false;
  const v8 = proc?.getBuiltinModule?.('node:v8') as NodeV8 | undefined;
  if (v8 === undefined) return false;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes as BufferSource);
}

/** The bytes to instantiate and where they came from, or why there are none. */
function readBundledBytes(): { bytes: Uint8Array; url: URL; relaxed: boolean } | string {
  const proc = nodeProcess();
  const mode = proc?.env?.UNLEARN_SIMD_KERNELS;
  if (mode === 'off') return 'turned off by UNLEARN_SIMD_KERNELS=off';
  const fs = proc?.getBuiltinModule?.('node:fs') as NodeFs | undefined;
  if (fs === undefined) return 'not in Node: call loadSimdKernels(bytes) with the bytes of build/simd-kernels.wasm';
  try {
    if (mode !== 'baseline') {
      const relaxed = fs.readFileSync(RELAXED_URL);
      if (relaxedSimdUsable(relaxed, proc)) return { bytes: relaxed, url: RELAXED_URL, relaxed: true };
    }
    return { bytes: fs.readFileSync(BASELINE_URL), url: BASELINE_URL, relaxed: false };
  } catch {
    return `${BASELINE_URL.pathname} is missing: run \`pnpm --filter @unlearnjs/backend-wasm build:simd\``;
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
 *
 * @param bytes - `build/simd-kernels.wasm`, or `build/simd-kernels-relaxed.wasm` where the
 *   engine has relaxed SIMD (then pass `fusedMultiplyAdd: true`)
 * @param options - `fusedMultiplyAdd`: whether these are the relaxed-SIMD kernels (it moves the
 *   shape thresholds between them and XNNPACK)
 */
export function loadSimdKernels(bytes: Uint8Array, options: { fusedMultiplyAdd?: boolean } = {}): void {
  loaded = instantiate(bytes);
  status = { available: true, source: 'loadSimdKernels', fusedMultiplyAdd: options.fusedMultiplyAdd ?? false };
}

/** Whether the SIMD convolution-gradient kernels are in use, and if not, why. */
export function simdKernelsStatus(): SimdKernelsStatus {
  simdKernels();
  return status;
}

/** Whether the loaded kernels use fused multiply-adds (the relaxed-SIMD build). */
export function simdKernelsHaveFma(): boolean {
  simdKernels();
  return status.available && status.fusedMultiplyAdd;
}

/** The loaded kernels, or null when they cannot be used (then the XNNPACK formulations run). */
export function simdKernels(): SimdKernelExports | null {
  if (loaded !== undefined) return loaded;
  const found = readBundledBytes();
  if (typeof found === 'string') {
    loaded = null;
    status = { available: false, reason: found };
    return null;
  }
  try {
    loaded = instantiate(found.bytes);
    status = { available: true, source: found.url.pathname, fusedMultiplyAdd: found.relaxed };
  } catch (err) {
    loaded = null;
    status = { available: false, reason: `${found.url.pathname} did not instantiate: ${(err as Error).message}` };
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
