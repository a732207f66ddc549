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
 * ({@link simdKernelsOnHeap}) and read and write tensors in place; with tfjs's threaded build
 * (a shared heap) they are split over workers bound to that heap too.
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
  geluForward(x: number, y: number, begin: number, end: number): void;
  geluBackward(dy: number, x: number, dx: number, begin: number, end: number): void;
  lnForward(...args: number[]): void;
  lnBackward(...args: number[]): void;
  batchedMatMul(...args: number[]): void;
}

/**
 * The kernels that run on an instance bound to another module's memory (the tfjs heap), with
 * the signatures of their assembly/*.ts exports; each ends with its range (rows, elements or
 * matrices: callers pass the whole range) and the calls are split over the heap's threads where
 * it is shared (tfjs's threaded build). Column sums (call with rows `[0, rows)`, part 0), the
 * SGD step and the layer-norm forward pass always run whole on the calling thread.
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
> & {
  /** Parts a call may be split into: `batchedMatMul` needs its scratch once per part. */
  threads: number;
};

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
const { module, memory, control, names } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('simd-kernels.wasm aborted'); } } });
const c = new Int32Array(memory.buffer, control, ${CONTROL_WORDS});
const fns = names.map((name) => inst.exports[name]);
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

/** Runs a call's parts: parts 1.. on the workers, part 0 on this thread, and waits for all. */
type PartRunner = (fn: number, args: number[], parts: Array<[number, number]>, direct: (a: number, b: number) => void) => void;

/**
 * Starts `threads − 1` workers that instantiate `module` on the shared `memory` and run the
 * exports `names[fn]` on request, with their control blocks at `controlAt(i)` (CONTROL_WORDS
 * words each, in that memory); null where worker_threads are missing.
 */
function startWorkers(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  threads: number,
  controlAt: (i: number) => number,
  names: readonly string[],
): { run: PartRunner; stop: () => void } | null {
  const wt = nodeProcess()?.getBuiltinModule?.('node:worker_threads') as NodeWorkerThreads | undefined;
  if (wt === undefined) return null;
  const workers: Array<{ worker: NodeWorker; c: Int32Array; seq: number }> = [];
  for (let i = 0; i < threads - 1; i++) {
    const control = controlAt(i);
    const worker = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, names } });
    worker.unref();
    workers.push({ worker, c: new Int32Array(memory.buffer, control, CONTROL_WORDS), seq: 0 });
  }
  const run: PartRunner = (fn, args, parts, direct) => {
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
  const stop = () => {
    for (const w of workers) {
      w.c[2] = FN_STOP;
      w.seq += 1;
      Atomics.store(w.c, 0, w.seq);
      Atomics.notify(w.c, 0);
    }
  };
  return { run, stop };
}

/** The exports the convolution workers run, indexed by the FN_ constants. */
const CONV_FUNCTIONS = ['filterGradient', 'inputGradient', 'winogradInput', 'winogradOutput', 'winogradGradTransform'] as const;

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
const onHeap = new WeakMap<WebAssembly.Memory, { kernels: HeapKernels | null; threads: number; stop?: () => void }>();

/** The exports the heap workers run, indexed by position (what splits over threads). */
const HEAP_FUNCTIONS = [
  'bnBlockSums',
  'bnForward',
  'bnBackwardSums',
  'bnBackwardInput',
  'lnBackward',
  'geluForward',
  'geluBackward',
  'batchedMatMul',
] as const;

/** Work per unit of each split kernel, in multiply-add equivalents, against MIN_SPLIT_MACS. */
const HEAP_COST: Record<(typeof HEAP_FUNCTIONS)[number], (args: number[]) => number> = {
  // (…, C, …, rowBegin, rowEnd): per row, C elements.
  bnBlockSums: (a) => a[2] * 4,
  bnForward: (a) => a[6] * 4,
  bnBackwardSums: (a) => a[4] * 4,
  bnBackwardInput: (a) => a[7] * 4,
  lnBackward: (a) => a[8] * 8,
  // Per element: an exp and an erf.
  geluForward: () => 32,
  geluBackward: () => 32,
  // Per matrix: M·K·N.
  batchedMatMul: (a) => a[3] * a[4] * a[5],
};

/** Units a split part must be a multiple of: whole 64-row sum blocks, whole vectors, matrices. */
const HEAP_STEP: Record<(typeof HEAP_FUNCTIONS)[number], number> = {
  bnBlockSums: 64,
  bnForward: 64,
  bnBackwardSums: 64,
  bnBackwardInput: 64,
  lnBackward: 64,
  geluForward: 4,
  geluBackward: 4,
  batchedMatMul: 1,
};

/**
 * The memory-bound kernels and batched products on an instance that imports `memory` (the tfjs
 * wasm heap: non-shared for its single-threaded build, shared for the threaded one), so that
 * they read and write tensors where they are. Where the heap is shared, {@link setSimdThreads}
 * asks for more than one thread and `alloc` (the heap's malloc) is given, calls are split over
 * that many threads: this one and workers bound to the same heap, whose control blocks `alloc`
 * places there. Null where the SIMD kernels are turned off or unavailable, or no build fits.
 */
export function simdKernelsOnHeap(memory: WebAssembly.Memory, alloc?: (bytes: number) => number): HeapKernels | null {
  if (!wanted || simdKernels() === null) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const threads = shared && alloc !== undefined ? threadsWanted : 1;
  const cached = onHeap.get(memory);
  // A call without `alloc` takes what is there rather than stopping the threads.
  if (cached !== undefined && (cached.threads === threads || alloc === undefined)) return cached.kernels;
  cached?.stop?.();
  let module = compiled.get(shared);
  if (module === undefined) {
    const found = readBundledBytes(shared);
    module = typeof found === 'string' ? null : new WebAssembly.Module(found.bytes as BufferSource);
    compiled.set(shared, module);
  }
  let raw: RawExports | null = null;
  if (module !== null) {
    try {
      raw = new WebAssembly.Instance(module, { env: { memory, ...abortImport } }).exports as unknown as RawExports;
    } catch {
      raw = null;
    }
  }
  if (raw === null || module === null) {
    onHeap.set(memory, { kernels: null, threads });
    return null;
  }
  let pool: ReturnType<typeof startWorkers> = null;
  if (threads > 1 && alloc !== undefined) {
    const bytes = (threads - 1) * CONTROL_WORDS * 4;
    const at = alloc(bytes + 16);
    if (at) pool = startWorkers(module, memory, threads, (i) => Math.ceil(at / 16) * 16 + i * CONTROL_WORDS * 4, HEAP_FUNCTIONS);
  }
  const r = raw;
  const split = (name: (typeof HEAP_FUNCTIONS)[number]) => {
    const fn = HEAP_FUNCTIONS.indexOf(name);
    const kernel = r[name] as (...a: number[]) => void;
    return (...argsAndRange: number[]) => {
      // The range is the last two arguments, a part index (batchedMatMul) may follow.
      const withPart = name === 'batchedMatMul';
      const args = argsAndRange.slice(0, withPart ? -3 : -2);
      const begin = argsAndRange[args.length];
      const end = argsAndRange[args.length + 1];
      const parts =
        pool === null || (end - begin) * HEAP_COST[name](args) < MIN_SPLIT_MACS
          ? [[0, end - begin] as [number, number]]
          : chunks(end - begin, threads, HEAP_STEP[name]);
      const shifted = parts.map(([a, b]) => [a + begin, b + begin] as [number, number]);
      const direct = (a: number, b: number) => (withPart ? kernel(...args, a, b, 0) : kernel(...args, a, b));
      if (pool === null || shifted.length === 1) direct(shifted[0][0], shifted[0][1]);
      else pool.run(fn, args, shifted, direct);
    };
  };
  const kernels: HeapKernels = {
    threads: pool === null ? 1 : threads,
    columnSums: (...a) => r.columnSums(...a),
    sgdStep: (...a) => r.sgdStep(...a),
    lnForward: (...a) => r.lnForward(...a),
    bnBlockSums: split('bnBlockSums'),
    bnForward: split('bnForward'),
    bnBackwardSums: split('bnBackwardSums'),
    bnBackwardInput: split('bnBackwardInput'),
    lnBackward: split('lnBackward'),
    geluForward: split('geluForward'),
    geluBackward: split('geluBackward'),
    batchedMatMul: split('batchedMatMul'),
  };
  onHeap.set(memory, { kernels, threads, stop: pool?.stop });
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
