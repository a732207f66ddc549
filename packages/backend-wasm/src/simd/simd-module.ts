/**
 * Loading, memory and threads of the package's own SIMD kernels (`build/simd-kernels*.wasm`,
 * compiled from `assembly/` by AssemblyScript).
 *
 * @remarks
 * The convolution and reduction kernels run on an instance with its own linear memory, separate
 * from the tfjs heap: their callers copy zero-padded operands in and the result out (a few MB per
 * call, small next to the arithmetic), and the tfjs heap does not grow. The memory-bound kernels
 * (batch and layer norm, GELU, the SGD step, column sums) and the batched products, where copies
 * would cost as much as the work, run on an instance bound to the tfjs heap's own memory
 * (`simdKernelsOnHeap` in heap-kernels.ts) and read and write tensors in place; with tfjs's
 * threaded build (a shared heap) they are split over workers bound to that heap too. The worker
 * threads of both are in workers.ts.
 *
 * With {@link setSimdThreads}(n > 1) (which `enableWasmThreads` calls) the `-shared` build runs
 * on one shared memory in this thread and n − 1 worker threads; each kernel call is split into
 * disjoint parts (input-channel tiles of dW, output rows of the gather kernel), the workers are
 * woken through `Atomics.notify` on a control block in that memory, and the caller runs its own
 * part and waits for theirs.
 * @packageDocumentation
 */

import { type NodeFs, type NodeProcess, type NodeV8, nodeProcess } from './node-runtime.js';
import { CONTROL_WORDS, MIN_SPLIT_MACS, chunks, startWorkers } from './workers.js';

/** The raw exports of a `simd-kernels*.wasm` instance. */
export interface RawExports {
  heapBase(): number;
  filterGradient(...args: number[]): void;
  inputGradient(...args: number[]): void;
  columnSums(...args: number[]): void;
  winogradInput(...args: number[]): void;
  winogradOutput(...args: number[]): void;
  winogradGradTransform(...args: number[]): void;
  bnBlockSums(...args: number[]): void;
  bnForward(...args: number[]): void;
  bnBackwardSums(...args: number[]): void;
  bnBackwardInput(...args: number[]): void;
  sgdStep(...args: number[]): void;
  geluForward(x: number, y: number, begin: number, end: number): void;
  geluBackward(dy: number, x: number, dx: number, begin: number, end: number): void;
  lnForward(...args: number[]): void;
  lnBackward(...args: number[]): void;
  batchedMatMul(...args: number[]): void;
  planeAxpy(...args: number[]): void;
  planeDots(...args: number[]): void;
}

/** The loaded kernels, with calls split across the SIMD threads. */
export interface SimdKernelExports {
  memory: WebAssembly.Memory;
  /** Threads a call may be split over (parts needing their own scratch). */
  threads: number;
  heapBase(): number;
  /**
   * `filterGradient` of assembly/conv-gradients.ts (through `packX`) without its last three
   * arguments (the input-channel range, here the whole of `C`, the 7th argument, and the part
   * index).
   */
  filterGradient(...args: number[]): void;
  /** `inputGradient` without its last two arguments (the rows, here all N·H). */
  inputGradient(...args: number[]): void;
  /** `winogradInput(xp, v, th, tw, C, Tx)` over all N·th·tw tiles (`tiles`). */
  winogradInput(xp: number, v: number, th: number, tw: number, C: number, Tx: number, tiles: number): void;
  /** `winogradOutput(m, y, th, tw, C, Tx)` over all tiles. */
  winogradOutput(m: number, y: number, th: number, tw: number, C: number, Tx: number, tiles: number): void;
  /** `winogradGradTransform(dy, d, th, tw, K, Tx)` over all tiles. */
  winogradGradTransform(dy: number, d: number, th: number, tw: number, K: number, Tx: number, tiles: number): void;
  /**
   * `planeAxpy(inp, out, idx, val, N, inImg, outImg, L)` of assembly/sparse-conv.ts over the
   * entry ranges `parts` (one per thread; none may split an output plane).
   */
  planeAxpy(args: number[], parts: Array<[number, number]>): void;
  /** `planeDots(a, b, idx, val, N, aImg, bImg, L)` over the entry ranges `parts`. */
  planeDots(args: number[], parts: Array<[number, number]>): void;
}

/** Why the SIMD kernels are or are not in use, for `simdKernelsStatus`. */
export type SimdKernelsStatus =
  | { available: true; source: string; fusedMultiplyAdd: boolean; threads: number }
  | { available: false; reason: string };

const buildUrl = (name: string) => new URL(`../../build/${name}`, import.meta.url);

let loaded: SimdKernelExports | null | undefined;
let wanted = true;
let threadsWanted = 1;
let stopWorkers: (() => void) | undefined;
let status: SimdKernelsStatus = { available: false, reason: 'not loaded yet' };

/** Turns the SIMD convolution-gradient kernels on or off (off: the XNNPACK formulations run). */
export function setSimdConvGradients(on: boolean): void {
  wanted = on;
}

/** The thread count asked for with {@link setSimdThreads}. */
export function simdThreadsWanted(): number {
  return threadsWanted;
}

/** Whether the kernels should use the SIMD convolution gradients (they may still be unavailable). */
export function simdConvGradientsWanted(): boolean {
  return wanted;
}

/**
 * Runs the SIMD kernels on `threads` threads (this one and `threads − 1` workers; Node only).
 * Takes effect at the next kernel call; 1 stops the workers.
 */
export function setSimdThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`setSimdThreads: threads must be a positive integer, got ${threads}`);
  if (threads === threadsWanted) return;
  threadsWanted = threads;
  if (loaded !== undefined && status.available && status.source !== 'loadSimdKernels') {
    stopWorkers?.();
    stopWorkers = undefined;
    loaded = undefined;
  }
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

/** The build to instantiate and where it came from, or why there is none. */
function readBundledBytes(shared: boolean): { bytes: Uint8Array; url: URL; relaxed: boolean } | string {
  const proc = nodeProcess();
  const mode = proc?.env?.UNLEARN_SIMD_KERNELS;
  if (mode === 'off') return 'turned off by UNLEARN_SIMD_KERNELS=off';
  const fs = proc?.getBuiltinModule?.('node:fs') as NodeFs | undefined;
  if (fs === undefined) return 'not in Node: call loadSimdKernels(bytes) with the bytes of build/simd-kernels.wasm';
  const suffix = shared ? '-shared' : '';
  const baseline = buildUrl(`simd-kernels${suffix}.wasm`);
  try {
    if (mode !== 'baseline') {
      const url = buildUrl(`simd-kernels-relaxed${suffix}.wasm`);
      const relaxed = fs.readFileSync(url);
      if (relaxedSimdUsable(relaxed, proc)) return { bytes: relaxed, url, relaxed: true };
    }
    return { bytes: fs.readFileSync(baseline), url: baseline, relaxed: false };
  } catch {
    return `${baseline.pathname} is missing: run \`pnpm --filter @unlearnjs/backend-wasm build:simd\``;
  }
}

/** The module's only import besides its memory. */
export const abortImport = {
  abort() {
    throw new Error('simd-kernels.wasm aborted');
  },
};

/** One thread's kernels: the whole range on the calling thread. */
function singleThreaded(raw: RawExports, memory: WebAssembly.Memory): SimdKernelExports {
  return {
    memory,
    threads: 1,
    heapBase: () => raw.heapBase(),
    filterGradient: (...args) => raw.filterGradient(...args, 0, args[6], 0),
    inputGradient: (...args) => raw.inputGradient(...args, 0, args[3] * args[4]),
    winogradInput: (xp, v, th, tw, C, Tx, tiles) => raw.winogradInput(xp, v, th, tw, C, Tx, 0, tiles),
    winogradOutput: (m, y, th, tw, C, Tx, tiles) => raw.winogradOutput(m, y, th, tw, C, Tx, 0, tiles),
    winogradGradTransform: (dy, d, th, tw, K, Tx, tiles) => raw.winogradGradTransform(dy, d, th, tw, K, Tx, 0, tiles),
    planeAxpy: (args, parts) => {
      for (const [a, b] of parts) raw.planeAxpy(...args, a, b);
    },
    planeDots: (args, parts) => {
      for (const [a, b] of parts) raw.planeDots(...args, a, b);
    },
  };
}

const FN_FILTER = 0;
const FN_INPUT = 1;
const FN_WINOGRAD_INPUT = 2;
const FN_WINOGRAD_OUTPUT = 3;
const FN_WINOGRAD_GRAD = 4;
const FN_PLANE_AXPY = 5;
const FN_PLANE_DOTS = 6;

/** The exports the convolution workers run, indexed by the FN_ constants. */
const CONV_FUNCTIONS = [
  'filterGradient',
  'inputGradient',
  'winogradInput',
  'winogradOutput',
  'winogradGradTransform',
  'planeAxpy',
  'planeDots',
] as const;

/** Kernels on a shared memory with `threads − 1` workers; null where workers cannot start. */
function multiThreaded(module: WebAssembly.Module, threads: number): { k: SimdKernelExports; stop: () => void } | null {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 32768, shared: true });
  const raw = new WebAssembly.Instance(module, { env: { memory, ...abortImport } }).exports as unknown as RawExports;
  const base = raw.heapBase();
  const pool = startWorkers(module, memory, threads, (i) => base + i * CONTROL_WORDS * 4, CONV_FUNCTIONS);
  if (pool === null) return null;
  const { run } = pool;
  const heapStart = base + (threads - 1) * CONTROL_WORDS * 4;

  // Calls below MIN_SPLIT_MACS run whole on the calling thread: waking a worker costs more.
  const parts = (macs: number, total: number, step: number): Array<[number, number]> =>
    macs < MIN_SPLIT_MACS ? [[0, total]] : chunks(total, threads, step);
  const k: SimdKernelExports = {
    memory,
    threads,
    heapBase: () => heapStart,
    // filterGradient(xp, dy, dw, N, Hp, Wp, C, Ho, Wo, K, KH, KW, …)
    filterGradient: (...args) =>
      run(FN_FILTER, args, parts(args[3] * args[7] * args[8] * args[6] * args[9] * args[10] * args[11], args[6], 4), (a, b) =>
        raw.filterGradient(...args, a, b, 0),
      ),
    // inputGradient(src, wt, out, N, H, Wx, C, Hq, Wq, K, KH, KW, sH, sW, …)
    inputGradient: (...args) =>
      run(
        FN_INPUT,
        args,
        parts((args[3] * args[4] * args[5] * args[6] * args[9] * args[10] * args[11]) / (args[12] * args[13]), args[3] * args[4], 1),
        (a, b) => raw.inputGradient(...args, a, b),
      ),
    winogradInput: (xp, v, th, tw, C, Tx, tiles) =>
      run(FN_WINOGRAD_INPUT, [xp, v, th, tw, C, Tx], parts(tiles * C * 16, tiles, 1), (a, b) =>
        raw.winogradInput(xp, v, th, tw, C, Tx, a, b),
      ),
    winogradOutput: (m, y, th, tw, C, Tx, tiles) =>
      run(FN_WINOGRAD_OUTPUT, [m, y, th, tw, C, Tx], parts(tiles * C * 16, tiles, 1), (a, b) =>
        raw.winogradOutput(m, y, th, tw, C, Tx, a, b),
      ),
    winogradGradTransform: (dy, d, th, tw, K, Tx, tiles) =>
      run(FN_WINOGRAD_GRAD, [dy, d, th, tw, K, Tx], parts(tiles * K * 16, tiles, 1), (a, b) =>
        raw.winogradGradTransform(dy, d, th, tw, K, Tx, a, b),
      ),
    planeAxpy: (args, p) => run(FN_PLANE_AXPY, args, p.slice(0, threads), (a, b) => raw.planeAxpy(...args, a, b)),
    planeDots: (args, p) => run(FN_PLANE_DOTS, args, p.slice(0, threads), (a, b) => raw.planeDots(...args, a, b)),
  };
  return { k, stop: pool.stop };
}

/**
 * Loads the SIMD kernels from the given bytes (browsers, bundlers), replacing any loaded ones;
 * they run on the calling thread. In Node they load by themselves from the package's `build/`.
 *
 * @param bytes - `build/simd-kernels.wasm`, or `build/simd-kernels-relaxed.wasm` where the
 *   engine has relaxed SIMD (then pass `fusedMultiplyAdd: true`)
 * @param options - `fusedMultiplyAdd`: whether these are the relaxed-SIMD kernels (it moves the
 *   shape thresholds between them and XNNPACK)
 */
export function loadSimdKernels(bytes: Uint8Array, options: { fusedMultiplyAdd?: boolean } = {}): void {
  stopWorkers?.();
  stopWorkers = undefined;
  const module = new WebAssembly.Module(bytes as BufferSource);
  compiled.set(false, module);
  loaded = ownMemoryInstance(module);
  status = { available: true, source: 'loadSimdKernels', fusedMultiplyAdd: options.fusedMultiplyAdd ?? false, threads: 1 };
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
  const threads = threadsWanted;
  const found = readBundledBytes(threads > 1);
  if (typeof found === 'string') {
    loaded = null;
    status = { available: false, reason: found };
    return null;
  }
  try {
    const module = new WebAssembly.Module(found.bytes as BufferSource);
    compiled.set(threads > 1, module);
    const pool = threads > 1 ? multiThreaded(module, threads) : null;
    if (pool !== null) {
      loaded = pool.k;
      stopWorkers = pool.stop;
    } else {
      loaded = ownMemoryInstance(module);
    }
    status = { available: true, source: found.url.pathname, fusedMultiplyAdd: found.relaxed, threads: pool === null ? 1 : threads };
  } catch (err) {
    loaded = null;
    status = { available: false, reason: `${found.url.pathname} did not instantiate: ${(err as Error).message}` };
  }
  return loaded;
}

/** A single-threaded instance on a fresh memory of its own. */
function ownMemoryInstance(module: WebAssembly.Module): SimdKernelExports {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const raw = new WebAssembly.Instance(module, { env: { memory, ...abortImport } }).exports as unknown as RawExports;
  return singleThreaded(raw, memory);
}

/** Compiled builds by sharedness (shared: the threads' build), for instances on other memories. */
const compiled = new Map<boolean, WebAssembly.Module | null>();

/** The bundled (or `loadSimdKernels`) build for a shared or unshared memory, compiled once; null if none. */
export function compiledBuild(shared: boolean): WebAssembly.Module | null {
  let module = compiled.get(shared);
  if (module === undefined) {
    const found = readBundledBytes(shared);
    module = typeof found === 'string' ? null : new WebAssembly.Module(found.bytes as BufferSource);
    compiled.set(shared, module);
  }
  return module;
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
    this.next = Math.ceil((at + floats * 4) / 16) * 16; // not `& ~15`: offsets may pass 2^31
    const need = this.next - this.k.memory.buffer.byteLength;
    if (need > 0) this.k.memory.grow(Math.ceil(need / 65536));
    return at;
  }

  /** Reserves `floats` float32 values set to zero and returns the byte offset. */
  zeros(floats: number): number {
    const at = this.alloc(floats);
    this.view(at, floats).fill(0);
    return at;
  }

  /** A float32 view of `floats` values at `at` (valid until the next `alloc`). */
  view(at: number, floats: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, at, floats);
  }
}
