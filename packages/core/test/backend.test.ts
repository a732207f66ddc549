import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryLogger, initBackend, isUnlearnError } from '@unlearnjs/core';

// A module loader that pretends only some optional packages are installed; the others fail the
// way a missing package does in Node.
function fakeImporter(available: Record<string, () => Promise<unknown>>) {
  const asked: string[] = [];
  const load = async (spec: string) => {
    asked.push(spec);
    const f = available[spec];
    if (!f) {
      const err = new Error(`Cannot find package '${spec}'`) as Error & { code: string };
      err.code = 'ERR_MODULE_NOT_FOUND';
      throw err;
    }
    return f();
  };
  return { load, asked };
}

const realImport = (s: string) => import(/* @vite-ignore */ s);
const g = globalThis as { navigator?: unknown };
const hadNavigator = 'navigator' in g;
const navigatorBefore = g.navigator;

afterEach(() => {
  if (hadNavigator) Object.defineProperty(globalThis, 'navigator', { value: navigatorBefore, configurable: true, writable: true });
  else delete g.navigator;
});

describe('initBackend', () => {
  it('auto: skips absent tfjs-node(-gpu) and a WebGPU without adapter, chooses wasm, and reports it', async () => {
    const { load, asked } = fakeImporter({
      webgpu: async () => ({ create: () => ({ requestAdapter: async () => null }), globals: {} }),
      '@tensorflow/tfjs-backend-wasm': () => realImport('@tensorflow/tfjs-backend-wasm'),
      '@tensorflow/tfjs-backend-cpu': () => realImport('@tensorflow/tfjs-backend-cpu'),
    });
    const logger = createMemoryLogger();
    const info = await initBackend('auto', { logger, importModule: load });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(asked.slice(0, 3)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'webgpu']);
    expect(info.attempts.map((a) => [a.backend, a.ok])).toEqual([
      ['tensorflow', false],
      ['webgpu', false],
      ['wasm', true],
    ]);
    expect(info.attempts[1].detail).toMatch(/no WebGPU adapter/);
    expect(logger.lines.some((l) => l.startsWith('info: backend: wasm'))).toBe(true);
    expect(logger.lines.join('\n')).toMatch(/skipped tensorflow: .*not installed/);
  });

  it('falls back to cpu when wasm is not installed either', async () => {
    const { load } = fakeImporter({ '@tensorflow/tfjs-backend-cpu': () => realImport('@tensorflow/tfjs-backend-cpu') });
    const info = await initBackend('auto', { logger: createMemoryLogger(), importModule: load });
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('loads the wasm training kernels when @unlearnjs/backend-wasm is present', async () => {
    let registered = 0;
    const { load } = fakeImporter({
      '@tensorflow/tfjs-backend-wasm': () => realImport('@tensorflow/tfjs-backend-wasm'),
      '@unlearnjs/backend-wasm': async () => ({
        registerWasmTrainingKernels: () => {
          registered++;
          return ['Conv2DBackpropFilter', 'Conv2DBackpropInput'];
        },
      }),
    });
    const info = await initBackend('wasm', { logger: createMemoryLogger(), importModule: load });
    expect(registered).toBe(1);
    expect(info.detail).toMatch(/2 training kernels/);
  });

  it("names the package's own SIMD kernels in the backend line, or why they are off", async () => {
    for (const [status, want] of [
      [{ available: true, fusedMultiplyAdd: true, threads: 2 }, /own SIMD kernels with FMA, 2 threads/],
      [
        { available: false, reason: 'turned off by UNLEARN_SIMD_KERNELS=off' },
        /own SIMD kernels off: turned off by UNLEARN_SIMD_KERNELS=off/,
      ],
    ] as const) {
      const { load } = fakeImporter({
        '@tensorflow/tfjs-backend-wasm': () => realImport('@tensorflow/tfjs-backend-wasm'),
        '@unlearnjs/backend-wasm': async () => ({
          registerWasmTrainingKernels: () => ['Conv2DBackpropFilter'],
          simdKernelsStatus: () => status,
        }),
      });
      const info = await initBackend('wasm', { logger: createMemoryLogger(), importModule: load });
      expect(info.detail).toMatch(want);
    }
  });

  it('wasmThreads: arranges threads through @unlearnjs/backend-wasm before the backend starts, logs its warning and reports the thread count', async () => {
    const calls: string[] = [];
    const { load } = fakeImporter({
      '@tensorflow/tfjs-backend-wasm': () => realImport('@tensorflow/tfjs-backend-wasm'),
      '@unlearnjs/backend-wasm': async () => ({
        enableWasmThreads: async (o: { threads: number }) => {
          calls.push(`threads ${o.threads} (backend ${tf.getBackend() === 'wasm' ? 'started' : 'not started'})`);
          return { requested: o.threads, threads: 1, warning: 'no threads here' };
        },
        registerWasmTrainingKernels: () => {
          calls.push('kernels');
          return [];
        },
      }),
    });
    await tf.setBackend('cpu');
    const logger = createMemoryLogger();
    const info = await initBackend('wasm', { logger, importModule: load, wasmThreads: 2 });
    expect(calls).toEqual(['threads 2 (backend not started)', 'kernels']);
    expect(logger.lines).toContain('warn: no threads here');
    // This process runs the stock single-threaded backend: the report says what really runs.
    expect(info.threads).toBe(1);
    expect(info.detail).toMatch(/^tfjs-backend-wasm, 1 thread \+ 0 training kernels/);
  });

  it('wasmThreads: a count outside 1..8, or one the running backend cannot switch to, is UNLEARN_INVALID_OPTIONS', async () => {
    for (const wasmThreads of [0, 2.5, 9]) {
      const err = await initBackend('wasm', { logger: createMemoryLogger(), wasmThreads }).catch((e) => e);
      expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    }
    const { load } = fakeImporter({
      '@tensorflow/tfjs-backend-wasm': () => realImport('@tensorflow/tfjs-backend-wasm'),
      '@unlearnjs/backend-wasm': async () => ({
        enableWasmThreads: async () => {
          throw Object.assign(new Error('The wasm backend is already initialised with 1 thread'), { code: 'WASM_ALREADY_INITIALISED' });
        },
      }),
    });
    const err = await initBackend('auto', { logger: createMemoryLogger(), importModule: load, wasmThreads: 2 }).catch((e) => e);
    // Not swallowed into "try the next backend": the caller must fix the call order.
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    expect(err.message).toMatch(/already initialised/);
  });

  it('throws UNLEARN_BACKEND_UNAVAILABLE with install advice when an explicit backend is missing', async () => {
    const { load } = fakeImporter({});
    const err = await initBackend('tensorflow', { logger: createMemoryLogger(), importModule: load }).catch((e) => e);
    expect(isUnlearnError(err, 'UNLEARN_BACKEND_UNAVAILABLE')).toBe(true);
    expect(err.message).toMatch(/tfjs-node-gpu/);
    expect(err.message).toMatch(/CUDA/);
  });

  it('WebGPU: refuses cleanly when no adapter exists and selects the WebGPU path when one does', async () => {
    const noAdapter = fakeImporter({ webgpu: async () => ({ create: () => ({ requestAdapter: async () => null }), globals: {} }) });
    const e1 = await initBackend('webgpu', { logger: createMemoryLogger(), importModule: noAdapter.load }).catch((e) => e);
    expect(isUnlearnError(e1, 'UNLEARN_BACKEND_UNAVAILABLE')).toBe(true);
    expect(e1.message).toMatch(/no WebGPU adapter/);

    delete g.navigator;
    // With an adapter, the loader goes on to load tfjs-backend-webgpu (absent here) and says so.
    const withAdapter = fakeImporter({ webgpu: async () => ({ create: () => ({ requestAdapter: async () => ({}) }), globals: {} }) });
    const e2 = await initBackend('webgpu', { logger: createMemoryLogger(), importModule: withAdapter.load }).catch((e) => e);
    expect(isUnlearnError(e2, 'UNLEARN_BACKEND_UNAVAILABLE')).toBe(true);
    expect(withAdapter.asked).toContain('@tensorflow/tfjs-backend-webgpu');
  });

  it('rejects an unknown backend name with a coded error', async () => {
    const err = await initBackend('cuda' as never, { logger: createMemoryLogger() }).catch((e) => e);
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
  });
});
