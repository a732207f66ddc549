/**
 * Loading, memory and threads of the package's own SIMD kernels (`build/simd-kernels*.wasm`,
 * compiled from `assembly/` by AssemblyScript).
 *
 * @remarks
 * The convolution and reduction kernels run on an instance with its own linear memory, separate
 * from the tfjs heap: their callers copy zero-padded operands in and the result out (a few MB per
 * call, small next to the arithmetic), and the tfjs heap does not grow. The batch-norm passes and
 * the SGD step, where copies would cost as much as the work, run on an instance bound to the tfjs
 * heap's own memory ({@link simdKernelsOnHeap}) and read and write tensors in place.
 *
 * With {@link setSimdThreads}(n > 1) (which `enableWasmThreads` calls) the `-shared` build runs
 * on one shared memory in this thread and n − 1 worker threads; each kernel call is split into
 * disjoint parts (input-channel tiles of dW, output rows of the gather kernel), the workers are
 * woken through `Atomics.notify` on a control block in that memory, and the caller runs its own
 * part and waits for theirs.
 * @packageDocumentation
 */

/** The raw exports of a `simd-kernels*.wasm` instance. */
interface RawExports {
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
  geluForward(x: number, y: number, n: number): void;
  geluBackward(dy: number, x: number, dx: number, n: number): void;
  lnForward(...args: number[]): void;
  lnBackward(...args: number[]): void;
  batchedMatMul(...args: number[]): void;
}

/**
 * The kernels that run on an instance bound to another module's memory (the tfjs heap): the
 * column sums of assembly/conv-gradients.ts (one part: rows `[0, rows)`, part 0), the batch-norm passes of assembly/batch-norm.ts, each with its row range `[rowBegin, rowEnd)` last,
 * the SGD step of assembly/sgd.ts, the GELU passes of assembly/gelu.ts, the layer-norm passes
 * of assembly/layer-norm.ts and the batched products of assembly/batched-mat-mul.ts.
 */
export type HeapKernels = Pick<
  RawExports,
  | 'columnSums'
  | 'bnBlockSums'
  | 'bnForward'
  | 'bnBackwardSums'
  | 'bnBackwardInput'
  | 'sgdStep'
  | 'geluForward'
  | 'geluBackward'
  | 'lnForward'
  | 'lnBackward'
  | 'batchedMatMul'
>;

/** The loaded kernels, with calls split across the SIMD threads. */
export interface SimdKernelExports {
  memory: WebAssembly.Memory;
  /** Threads a call may be split over (parts needing their own scratch). */
  threads: number;
  heapBase(): number;
  /**
   * `filterGradient` of assembly/conv-gradients.ts without its last three arguments (the
   * input-channel range, here the whole of `C`, the 7th argument, and the part index).
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

type NodeProcess = { getBuiltinModule?(id: string): unknown; env?: Record<string, string | undefined> };
type NodeFs = { readFileSync(path: URL): Uint8Array };
type NodeV8 = { setFlagsFromString(flags: string): void };
type NodeWorker = { unref(): void; terminate(): Promise<number> };
type NodeWorkerThreads = {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;
};

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

const abortImport = {
  abort() {
    throw new Error('simd-kernels.wasm aborted');
  },
};

/** Splits `[0, total)` into at most `parts` contiguous chunks, each a multiple of `step`. */
function chunks(total: number, parts: number, step: number): Array<[number, number]> {
  const units = Math.ceil(total / step);
  const n = Math.max(1, Math.min(parts, units));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const a = Math.floor((units * i) / n) * step;
    const b = Math.min(total, Math.floor((units * (i + 1)) / n) * step);
    if (b > a) out.push([a, b]);
  }
  return out;
}

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
  };
}

const CONTROL_WORDS = 64;
/** Multiply-adds below which a call is not split over threads (a wake-up costs ~10–50 µs). */
const MIN_SPLIT_MACS = 1 << 20;
const FN_FILTER = 0;
const FN_INPUT = 1;
const FN_WINOGRAD_INPUT = 2;
const FN_WINOGRAD_OUTPUT = 3;
const FN_WINOGRAD_GRAD = 4;
const FN_STOP = -1;

/**
 * The worker's loop, run with `eval`: wait for a new sequence number in its control block, run
 * the kernel with the arguments stored there, publish the sequence number as done (negative on
 * an exception).
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('simd-kernels.wasm aborted'); } } });
const c = new Int32Array(memory.buffer, control, ${CONTROL_WORDS});
const fns = [inst.exports.filterGradient, inst.exports.inputGradient, inst.exports.winogradInput, inst.exports.winogradOutput, inst.exports.winogradGradTransform];
let seq = 0;
for (;;) {
  Atomics.wait(c, 0, seq);
  seq = Atomics.load(c, 0);
  if (c[2] === ${FN_STOP}) break;
  let ok = true;
  try { fns[c[2]](...Array.from(c.subarray(4, 4 + c[3]))); } catch { ok = false; }
  Atomics.store(c, 1, ok ? seq : -seq);
  Atomics.notify(c, 1);
}
`;

/** Kernels on a shared memory with `threads − 1` workers; null where workers cannot start. */
function multiThreaded(module: WebAssembly.Module, threads: number): { k: SimdKernelExports; stop: () => void } | null {
  const wt = nodeProcess()?.getBuiltinModule?.('node:worker_threads') as NodeWorkerThreads | undefined;
  if (wt === undefined) return null;
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 32768, shared: true });
  const raw = new WebAssembly.Instance(module, { env: { memory, ...abortImport } }).exports as unknown as RawExports;
  const base = raw.heapBase();
  const workers: Array<{ worker: NodeWorker; c: Int32Array; seq: number }> = [];
  for (let i = 0; i < threads - 1; i++) {
    const control = base + i * CONTROL_WORDS * 4;
    const worker = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control } });
    worker.unref();
    workers.push({ worker, c: new Int32Array(memory.buffer, control, CONTROL_WORDS), seq: 0 });
  }
  const heapStart = base + (threads - 1) * CONTROL_WORDS * 4;

  const run = (fn: number, args: number[], parts: Array<[number, number]>, direct: (a: number, b: number) => void) => {
    const posted: typeof workers = [];
    for (let i = 1; i < parts.length; i++) {
      const w = workers[i - 1];
      const all = [...args, parts[i][0], parts[i][1], i];
      w.c[2] = fn;
      w.c[3] = all.length;
      w.c.set(all, 4);
      w.seq += 1;
      Atomics.store(w.c, 0, w.seq);
      Atomics.notify(w.c, 0);
      posted.push(w);
    }
    direct(parts[0][0], parts[0][1]);
    for (const w of posted) {
      for (;;) {
        const done = Atomics.load(w.c, 1);
        if (done === w.seq) break;
        if (done === -w.seq) throw new Error('a simd-kernels.wasm worker failed');
        if (Atomics.wait(w.c, 1, done, 60_000) === 'timed-out' && Atomics.load(w.c, 1) === done) {
          throw new Error('a simd-kernels.wasm worker did not answer within 60 s');
        }
      }
    }
  };

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
  };
  const stop = () => {
    for (const w of workers) {
      w.c[2] = FN_STOP;
      w.seq += 1;
      Atomics.store(w.c, 0, w.seq);
      Atomics.notify(w.c, 0);
    }
  };
  return { k, stop };
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
const onHeap = new WeakMap<WebAssembly.Memory, HeapKernels | null>();

/**
 * The batch-norm passes and SGD step on an instance that imports `memory` (the tfjs wasm heap: non-shared for
 * its single-threaded build, shared for the threaded one), so that they read and write tensors
 * where they are; they run on the calling thread. Null where the SIMD kernels are turned off or
 * unavailable, or no build fits the memory.
 */
export function simdKernelsOnHeap(memory: WebAssembly.Memory): HeapKernels | null {
  if (!wanted || simdKernels() === null) return null;
  const cached = onHeap.get(memory);
  if (cached !== undefined) return cached;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  let module = compiled.get(shared);
  if (module === undefined) {
    const found = readBundledBytes(shared);
    module = typeof found === 'string' ? null : new WebAssembly.Module(found.bytes as BufferSource);
    compiled.set(shared, module);
  }
  let kernels: HeapKernels | null = null;
  if (module !== null) {
    try {
      kernels = new WebAssembly.Instance(module, { env: { memory, ...abortImport } }).exports as unknown as HeapKernels;
    } catch {
      kernels = null;
    }
  }
  onHeap.set(memory, kernels);
  return kernels;
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
