import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { type BackendExtension, UnlearnError, createMemoryLogger, initBackend, isUnlearnError } from '@unlearnjs/core';

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

  /** A backend extension for wasm that records what initBackend asks of it. */
  function fakeWasmExtension(overrides: Partial<BackendExtension> = {}): BackendExtension & { calls: string[] } {
    const calls: string[] = [];
    return {
      backend: 'wasm',
      name: 'fake-wasm-kernels',
      registerKernels: () => {
        calls.push(`kernels (backend ${tf.getBackend() === 'wasm' ? 'started' : 'not started'})`);
        return ['Conv2DBackpropFilter', 'Conv2DBackpropInput'];
      },
      ...overrides,
      calls,
    };
  }
  const wasmOnly = () => fakeImporter({ '@tensorflow/tfjs-backend-wasm': () => realImport('@tensorflow/tfjs-backend-wasm') });

  it("registers the chosen backend's extension kernels before the backend starts, and names them", async () => {
    await tf.setBackend('cpu');
    const ext = fakeWasmExtension({ describe: () => 'own SIMD kernels with FMA, 2 threads' });
    const other = { ...fakeWasmExtension(), backend: 'webgpu' as const, name: 'fake-webgpu-kernels' };
    const info = await initBackend('wasm', { logger: createMemoryLogger(), importModule: wasmOnly().load, extensions: [other, ext] });
    expect(ext.calls).toEqual(['kernels (backend not started)']);
    expect(other.calls).toEqual([]);
    expect(info.extension).toBe(ext);
    expect(info.detail).toMatch(/\+ 2 kernels from fake-wasm-kernels \(own SIMD kernels with FMA, 2 threads\)$/);
  });

  it('without an extension, runs the stock backend and reports no extension', async () => {
    const info = await initBackend('wasm', { logger: createMemoryLogger(), importModule: wasmOnly().load });
    expect(info.extension).toBeUndefined();
    expect(info.detail).not.toMatch(/kernels from/);
  });

  it('refuses two extensions for one backend', async () => {
    const err = await initBackend('wasm', {
      logger: createMemoryLogger(),
      importModule: wasmOnly().load,
      extensions: [fakeWasmExtension(), fakeWasmExtension({ name: 'another' })],
    }).catch((e) => e);
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
  });

  it('threads: arranged through the extension before the backend starts; its warning is logged and the count really run reported', async () => {
    const ext = fakeWasmExtension();
    const withThreads = {
      ...ext,
      threads: {
        max: 8,
        enable: async (threads: number) => {
          ext.calls.push(`threads ${threads} (backend ${tf.getBackend() === 'wasm' ? 'started' : 'not started'})`);
          return { threads: 1, warning: 'no threads here' };
        },
      },
    };
    await tf.setBackend('cpu');
    const logger = createMemoryLogger();
    const info = await initBackend('wasm', { logger, importModule: wasmOnly().load, extensions: [withThreads], threads: 2 });
    expect(ext.calls).toEqual(['threads 2 (backend not started)', 'kernels (backend not started)']);
    expect(logger.lines).toContain('warn: no threads here');
    // This process runs the stock single-threaded backend: the report says what really runs.
    expect(info.threads).toBe(1);
    expect(info.detail).toMatch(/^tfjs-backend-wasm, 1 thread \+ 2 kernels from fake-wasm-kernels/);
  });

  it("threads: not a positive integer, above the extension's max, or refused by it, is UNLEARN_INVALID_OPTIONS", async () => {
    const refusing: BackendExtension = {
      ...fakeWasmExtension(),
      threads: {
        max: 8,
        enable: async () => {
          throw new UnlearnError('UNLEARN_INVALID_OPTIONS', 'The wasm backend is already initialised with 1 thread');
        },
      },
    };
    for (const threads of [0, 2.5, 9]) {
      const err = await initBackend('wasm', { logger: createMemoryLogger(), extensions: [refusing], threads }).catch((e) => e);
      expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
      expect(err.message).toMatch(/threads must be an integer/);
    }
    const err = await initBackend('auto', {
      logger: createMemoryLogger(),
      importModule: wasmOnly().load,
      extensions: [refusing],
      threads: 2,
    }).catch((e) => e);
    // Not swallowed into "try the next backend": the caller must fix the call order.
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    expect(err.message).toMatch(/already initialised/);
  });

  it('threads: a backend whose extension runs no threads keeps its default, and the logger says so', async () => {
    const logger = createMemoryLogger();
    await initBackend('wasm', { logger, importModule: wasmOnly().load, threads: 2 });
    expect(logger.lines.some((l) => /^warn: threads: 2 asked/.test(l))).toBe(true);
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
    // With an adapter, the loader goes on to load tfjs-backend-webgpu (absent here) and says so;
    // it asks for no package of ours (extensions are handed in, never imported by name).
    const withAdapter = fakeImporter({ webgpu: async () => ({ create: () => ({ requestAdapter: async () => ({}) }), globals: {} }) });
    const e2 = await initBackend('webgpu', { logger: createMemoryLogger(), importModule: withAdapter.load }).catch((e) => e);
    expect(isUnlearnError(e2, 'UNLEARN_BACKEND_UNAVAILABLE')).toBe(true);
    expect(withAdapter.asked).toContain('@tensorflow/tfjs-backend-webgpu');
    expect(withAdapter.asked.filter((spec) => spec.startsWith('@unlearnjs/'))).toEqual([]);
  });

  it('rejects an unknown backend name with a coded error', async () => {
    const err = await initBackend('cuda' as never, { logger: createMemoryLogger() }).catch((e) => e);
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
  });
});
