/**
 * The SIMD module instantiated on the tfjs heap's own memory, so that memory-bound kernels and
 * batched products read and write tensors where they are (decision 0007), split over worker
 * threads bound to the same heap where it is shared (tfjs's threaded build).
 * @packageDocumentation
 */
import { type RawExports, abortImport, compiledBuild, simdConvGradientsWanted, simdKernels, simdThreadsWanted } from './simd-module.js';
import { CONTROL_WORDS, MIN_SPLIT_MACS, chunks, startWorkers } from './workers.js';

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

/**
 * Rows per block of the per-channel sums the norm kernels write (BLOCK_ROWS in
 * assembly/batch-norm.ts and assembly/layer-norm.ts): float32 within a block, float64 across.
 */
export const SUM_BLOCK_ROWS = 64;

/** Units a split part must be a multiple of: whole sum blocks, whole vectors, matrices. */
const HEAP_STEP: Record<(typeof HEAP_FUNCTIONS)[number], number> = {
  bnBlockSums: SUM_BLOCK_ROWS,
  bnForward: SUM_BLOCK_ROWS,
  bnBackwardSums: SUM_BLOCK_ROWS,
  bnBackwardInput: SUM_BLOCK_ROWS,
  lnBackward: SUM_BLOCK_ROWS,
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
  if (!simdConvGradientsWanted() || simdKernels() === null) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const threads = shared && alloc !== undefined ? simdThreadsWanted() : 1;
  const cached = onHeap.get(memory);
  // A call without `alloc` takes what is there rather than stopping the threads.
  if (cached !== undefined && (cached.threads === threads || alloc === undefined)) return cached.kernels;
  cached?.stop?.();
  const module = compiledBuild(shared);
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
