import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError, isUnlearnError } from '../errors/unlearn-error.js';
import { type Logger, createConsoleLogger } from '../progress/logger.js';

/** Backends a user can ask for. `auto` tries them in order of speed. */
export type BackendRequest = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
/** A concrete backend. */
export type BackendName = Exclude<BackendRequest, 'auto'>;

/** The order `auto` tries: native TensorFlow (GPU build first), WebGPU, wasm, pure JS. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** One backend that was tried. */
export interface BackendAttempt {
  backend: BackendName;
  ok: boolean;
  /** Why it was not used, or what was loaded. */
  detail: string;
}

/** What {@link initBackend} chose. */
export interface BackendInfo {
  /** The backend now active in tfjs. */
  name: BackendName;
  /**
   * What was loaded, e.g. `@tensorflow/tfjs-node-gpu` or
   * `tfjs-backend-wasm, 2 threads + 19 training kernels from @unlearnjs/backend-wasm`.
   */
  detail: string;
  /** XNNPACK threads the wasm backend runs (wasm only). */
  threads?: number;
  /** Everything tried, in order. */
  attempts: BackendAttempt[];
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Where to print the choice. @defaultValue a console logger */
  logger?: Logger;
  /**
   * Loads an optional package by name. Injected by tests to simulate packages that are (or are not)
   * installed; the default is a dynamic `import()`.
   */
  importModule?: (specifier: string) => Promise<unknown>;
  /**
   * Threads for the wasm backend (an integer from 1 to 8), through `enableWasmThreads` of
   * `@unlearnjs/backend-wasm`; ignored by the other backends. It takes effect only when the wasm
   * backend initialises, once per process. When the runtime cannot run the threaded binary (or
   * `@unlearnjs/backend-wasm` is absent) the backend runs 1 thread and the logger warns why.
   * @defaultValue undefined: tfjs's default, 1 thread in Node
   */
  wasmThreads?: number;
}

/** The most wasm threads tfjs-backend-wasm 4.22 can run (it pre-creates 8 pthread workers). */
const MAX_WASM_THREADS = 8;

const defaultImport = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(err.message)) {
      return 'not installed';
    }
    return err.message.split('\n')[0];
  }
  return String(err);
}

async function activate(name: BackendName): Promise<void> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
}

/** What a loader reports: the detail string, and the wasm thread count. */
interface Loaded {
  detail: string;
  threads?: number;
}

interface LoaderContext {
  logger: Logger;
  wasmThreads?: number;
}

type Loader = (load: (s: string) => Promise<unknown>, ctx: LoaderContext) => Promise<string | Loaded>;

/** The parts of `@unlearnjs/backend-wasm` used here (it is optional, so not imported by type). */
interface BackendWasmExtension {
  registerWasmTrainingKernels?: () => string[];
  enableWasmThreads?: (options: { threads: number }) => Promise<{ threads: number; warning?: string }>;
  simdKernelsStatus?: () => { available: true; fusedMultiplyAdd: boolean; threads: number } | { available: false; reason: string };
}

/** How the backend line names @unlearnjs/backend-wasm's own SIMD kernels (or why they are off). */
function describeSimdKernels(ext: BackendWasmExtension): string {
  const s = ext.simdKernelsStatus?.();
  if (s === undefined) return '';
  if (!s.available) return ` (own SIMD kernels off: ${s.reason})`;
  return ` (own SIMD kernels${s.fusedMultiplyAdd ? ' with FMA' : ''}, ${s.threads} thread${s.threads === 1 ? '' : 's'})`;
}

const loaders: Record<BackendName, Loader> = {
  async tensorflow(load) {
    let lastErr: unknown;
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        await load(pkg);
        if (!tf.findBackend('tensorflow')) throw new Error(`${pkg} loaded but registered no 'tensorflow' backend`);
        await activate('tensorflow');
        return pkg;
      } catch (err) {
        lastErr = err;
      }
    }
    throw new Error(`neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is usable (${reason(lastErr)})`);
  },
  async webgpu(load) {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    let gpu = g.navigator?.gpu as { requestAdapter(): Promise<unknown> } | undefined;
    if (!gpu) {
      // In Node, WebGPU comes from the `webgpu` package (Dawn), which needs a Vulkan driver.
      const mod = (await load('webgpu')) as { create(flags: string[]): unknown; globals: Record<string, unknown> };
      Object.assign(globalThis, mod.globals);
      gpu = mod.create([]) as typeof gpu;
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    }
    const adapter = await gpu?.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter found (no GPU, or no Vulkan driver)');
    await load('@tensorflow/tfjs-backend-webgpu');
    let extra = '';
    try {
      const ext = (await load('@unlearnjs/backend-webgpu')) as { registerWebgpuTrainingKernels?: () => string[] };
      const names = ext.registerWebgpuTrainingKernels?.() ?? [];
      extra = ` + ${names.length} kernels from @unlearnjs/backend-webgpu`;
    } catch {
      // Optional: the stock WebGPU kernels still train, only slower.
    }
    await activate('webgpu');
    return `WebGPU${extra}`;
  },
  async wasm(load, { logger, wasmThreads }) {
    const wasm = (await load('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount?: () => number };
    let extra = ' (no training kernels: install @unlearnjs/backend-wasm to train CNNs)';
    let ext: BackendWasmExtension | undefined;
    try {
      ext = (await load('@unlearnjs/backend-wasm')) as BackendWasmExtension;
    } catch (err) {
      if (reason(err) !== 'not installed') throw err;
    }
    if (wasmThreads !== undefined) {
      // Threads must be arranged before the backend initialises (activate, below).
      if (ext?.enableWasmThreads === undefined) {
        if (wasmThreads > 1) logger.warn('wasm threads need @unlearnjs/backend-wasm, which is not installed; running 1 thread.');
      } else {
        try {
          const r = await ext.enableWasmThreads({ threads: wasmThreads });
          if (r.warning !== undefined) logger.warn(r.warning);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'WASM_ALREADY_INITIALISED' || code === 'WASM_THREADS_INVALID_OPTIONS') {
            throw new UnlearnError('UNLEARN_INVALID_OPTIONS', (err as Error).message, { details: { wasmThreads }, cause: err });
          }
          throw err;
        }
      }
    }
    if (ext?.registerWasmTrainingKernels !== undefined) {
      const names = ext.registerWasmTrainingKernels();
      extra = ` + ${names.length} training kernels from @unlearnjs/backend-wasm${describeSimdKernels(ext)}`;
    }
    await activate('wasm');
    let threads: number | undefined;
    try {
      threads = wasm.getThreadsCount?.();
    } catch {
      threads = undefined; // not initialised through this copy of tfjs-backend-wasm
    }
    const shown = threads === undefined ? '' : `, ${threads} thread${threads === 1 ? '' : 's'}`;
    return { detail: `tfjs-backend-wasm${shown}${extra}`, threads };
  },
  async cpu(load) {
    await load('@tensorflow/tfjs-backend-cpu');
    await activate('cpu');
    return 'tfjs-backend-cpu (pure JavaScript, slow)';
  },
};

/**
 * Choose and activate the tfjs backend, and report which one runs.
 *
 * @remarks
 * `auto` tries `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (backend `tensorflow`),
 * then WebGPU (through the `webgpu` npm package in Node, only when an adapter is found), then
 * wasm, then cpu. None of these is a hard dependency of unlearnjs: a missing package is skipped
 * with the reason recorded. Libraries never call this; apps, examples and the CLI do.
 *
 * `wasmThreads` runs the wasm backend multi-threaded in Node (tfjs-backend-wasm is otherwise
 * single-threaded there) through `enableWasmThreads` of `@unlearnjs/backend-wasm`; the detail
 * string and `threads` report the thread count the backend actually runs.
 *
 * @param request - the backend to use, or `auto` @defaultValue 'auto'
 * @param options - logger, wasm threads and (for tests) the module loader
 * @returns the chosen backend and every attempt
 * @throws UnlearnError `UNLEARN_BACKEND_UNAVAILABLE` when the requested backend (or, for `auto`,
 *   every backend) cannot be used; the message says what to install. `UNLEARN_INVALID_OPTIONS`
 *   for an unknown backend name, a `wasmThreads` outside 1..8, or a `wasmThreads` other than the
 *   count the already-initialised wasm backend runs (it cannot change within a process)
 *
 * @example
 * ```ts
 * const info = await initBackend('auto'); // prints e.g. "backend: wasm (tfjs-backend-wasm, 1 thread + 19 training kernels ...)"
 * await initBackend('wasm', { wasmThreads: 2 }); // "backend: wasm (tfjs-backend-wasm, 2 threads + ...)"
 * ```
 */
export async function initBackend(request: BackendRequest = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  const logger = options.logger ?? createConsoleLogger();
  const load = options.importModule ?? defaultImport;
  const { wasmThreads } = options;
  if (wasmThreads !== undefined && (!Number.isInteger(wasmThreads) || wasmThreads < 1 || wasmThreads > MAX_WASM_THREADS)) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `wasmThreads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${String(wasmThreads)}.`,
      {
        details: { wasmThreads },
      },
    );
  }
  if (!['auto', ...BACKEND_ORDER].includes(request)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Unknown backend "${request}"; use one of auto, ${BACKEND_ORDER.join(', ')}.`, {
      details: { backend: request },
    });
  }
  const order = request === 'auto' ? BACKEND_ORDER : [request];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    try {
      const loaded = await loaders[name](load, { logger, wasmThreads });
      const { detail, threads } = typeof loaded === 'string' ? { detail: loaded, threads: undefined } : loaded;
      attempts.push({ backend: name, ok: true, detail });
      const info: BackendInfo = { name, detail, attempts, ...(threads === undefined ? {} : { threads }) };
      const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.backend}: ${a.detail}`);
      logger.info(`backend: ${name} (${detail})${skipped.length ? `; skipped ${skipped.join('; ')}` : ''}`);
      return info;
    } catch (err) {
      // A coded error is the caller's mistake (e.g. wasm threads asked for too late), not a
      // missing backend: trying the next backend would hide it.
      if (isUnlearnError(err)) throw err;
      attempts.push({ backend: name, ok: false, detail: reason(err) });
    }
  }
  const hints: Record<BackendName, string> = {
    tensorflow: 'install @tensorflow/tfjs-node-gpu (CUDA 11.2, cuDNN 8.1) or @tensorflow/tfjs-node; their install downloads libtensorflow',
    webgpu: 'install the `webgpu` npm package and @tensorflow/tfjs-backend-webgpu, on a machine with a GPU and a Vulkan driver',
    wasm: 'install @tensorflow/tfjs-backend-wasm (and @unlearnjs/backend-wasm for training)',
    cpu: 'install @tensorflow/tfjs-backend-cpu',
  };
  throw new UnlearnError(
    'UNLEARN_BACKEND_UNAVAILABLE',
    `No usable backend for "${request}": ${attempts.map((a) => `${a.backend}: ${a.detail}`).join('; ')}. To fix: ${order.map((n) => hints[n]).join('; or ')}.`,
    { details: { request, attempts } },
  );
}
