/**
 * Worker threads that run parts of a kernel call on a shared memory: each worker instantiates the
 * module on that memory and waits on its control block (`Atomics.wait`) for a function index and
 * arguments; the caller runs its own part and waits for theirs.
 * @packageDocumentation
 */
import { type NodeWorker, type NodeWorkerThreads, nodeProcess } from './node-runtime.js';

/** 32-bit words per worker control block: sequence, done, function, argument count, arguments. */
export const CONTROL_WORDS = 64;
/** Multiply-adds below which a call is not split over threads (a wake-up costs ~10–50 µs). */
export const MIN_SPLIT_MACS = 1 << 20;
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
export type PartRunner = (fn: number, args: number[], parts: Array<[number, number]>, direct: (a: number, b: number) => void) => void;

/**
 * Starts `threads − 1` workers that instantiate `module` on the shared `memory` and run the
 * exports `names[fn]` on request, with their control blocks at `controlAt(i)` (CONTROL_WORDS
 * words each, in that memory); null where worker_threads are missing.
 */
export function startWorkers(
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

/** Splits `[0, total)` into at most `parts` contiguous chunks, each a multiple of `step`. */
export function chunks(total: number, parts: number, step: number): Array<[number, number]> {
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
