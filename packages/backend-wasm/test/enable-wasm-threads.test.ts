import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { MAX_WASM_THREADS, enableWasmThreads } from '@unlearnjs/backend-wasm';

const run = promisify(execFile);
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
const child = fileURLToPath(new URL('./fixtures/threaded-conv-net.ts', import.meta.url));

interface Digest {
  sha256: string;
  length: number;
  nonZero: number;
  sample: number[];
}

interface ChildResult {
  first: { requested: number; threads: number; warning?: string };
  second: { requested: number; threads: number };
  third: { requested: number; threads: number };
  wrappedOnce: boolean;
  actual: number;
  lossValue: number;
  logits: number[];
  grads: Record<string, number[]>;
  bn: Digest;
  more: Digest;
  sparse: Digest;
  heapBound: boolean;
  heapThreads: number;
  leaked: number;
}

// Threads need real worker_threads and a fresh wasm module: run the net in a plain tsx process.
async function runChild(threads: number): Promise<ChildResult> {
  const { stdout } = await run(process.execPath, [tsxCli, '--conditions=@unlearnjs/source', child, String(threads)], {
    timeout: 60_000,
    maxBuffer: 16 << 20,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('THREADS_RESULT '));
  if (line === undefined) throw new Error(`child printed no result:\n${stdout}`);
  return JSON.parse(line.slice('THREADS_RESULT '.length)) as ChildResult;
}

function maxRelDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code,
  );

describe('enableWasmThreads', () => {
  it('rejects thread counts that are not integers in 1..8 with a coded error', async () => {
    for (const threads of [0, -1, 1.5, Number.NaN, MAX_WASM_THREADS + 1]) {
      expect(await codeOf(enableWasmThreads({ threads }))).toBe('WASM_THREADS_INVALID_OPTIONS');
    }
  });

  it('without WebAssembly threads: returns 1 thread and a warning (prints nothing), or throws when strict', async () => {
    const g = globalThis as { SharedArrayBuffer?: unknown };
    const sab = g.SharedArrayBuffer;
    delete g.SharedArrayBuffer;
    try {
      const r = await enableWasmThreads({ threads: 2 });
      expect(r.requested).toBe(2);
      expect(r.threads).toBe(1);
      expect(r.warning).toMatch(/SharedArrayBuffer.*1 thread/);
      expect(await codeOf(enableWasmThreads({ threads: 2, strict: true }))).toBe('WASM_THREADS_UNSUPPORTED');
    } finally {
      g.SharedArrayBuffer = sab;
    }
    expect(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')).toBe(false);
  });

  it('2 threads: a conv net gives the same outputs and gradients as 1 thread, runs 2 threads, is idempotent and leaks nothing', async () => {
    const one = await runChild(1);
    const two = await runChild(2);
    expect(one.actual).toBe(1);
    expect(two.actual).toBe(2);
    expect(two.first).toMatchObject({ requested: 2, threads: 2 });
    expect(two.first.warning).toBeUndefined();
    // Calling again before and after initialisation answers the same and wraps tfjs's factory once.
    expect(two.second).toMatchObject({ requested: 2, threads: 2 });
    expect(two.third).toMatchObject({ requested: 2, threads: 2 });
    expect(two.wrappedOnce).toBe(true);
    // XNNPACK splits the output among threads; each element is still summed in the same order, so
    // the results agree to float32 rounding (they were bit-identical when this was written).
    expect(Math.abs(two.lossValue - one.lossValue)).toBeLessThanOrEqual(1e-6 * Math.abs(one.lossValue));
    expect(maxRelDiff(two.logits, one.logits)).toBeLessThan(1e-6);
    expect(Object.keys(two.grads).sort()).toEqual(['dw', 'k', 'w1', 'w2', 'w3'].sort());
    for (const name of Object.keys(one.grads)) {
      expect(one.grads[name].some((v) => v !== 0)).toBe(true);
      expect(maxRelDiff(two.grads[name], one.grads[name])).toBeLessThan(1e-6);
    }
    // The fused BatchNorm runs its SIMD passes on the tfjs heap; its per-block sums do not
    // depend on how the rows are split over threads.
    expect(one.heapBound).toBe(true);
    expect(two.heapBound).toBe(true);
    expect(one.bn.nonZero).toBeGreaterThan(one.bn.length / 2);
    expect(two.bn).toEqual(one.bn);
    // With 2 threads those kernels, GELU and the batched products are split over 2 threads
    // bound to the (shared) tfjs heap, with the same results as 1 thread, bit for bit.
    expect(one.heapThreads).toBe(1);
    expect(two.heapThreads).toBe(2);
    expect(two.more).toEqual(one.more);
    // The sparse plane kernels split a pruned conv by output plane (forward, input gradient) and
    // by entry (masked filter gradient): each sum is still done by one thread in one order.
    expect(one.sparse.nonZero).toBeGreaterThan(one.sparse.length / 2);
    expect(two.sparse).toEqual(one.sparse);
    expect(one.leaked).toBe(0);
    expect(two.leaked).toBe(0);
  });

  it('after the backend initialised: the same thread count is a no-op, another one throws WASM_ALREADY_INITIALISED', async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect(await enableWasmThreads({ threads: 1 })).toEqual({ requested: 1, threads: 1 });
    const err = await enableWasmThreads({ threads: 2 }).catch((e: Error & { code?: string }) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('WASM_ALREADY_INITIALISED');
    expect((err as Error).message).toMatch(/already initialised with 1 thread.*before tf\.setBackend\('wasm'\)/);
  });
});
