import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError, isUnlearnError } from '../errors/unlearn-error.js';
import { type Logger, createConsoleLogger } from '../progress/logger.js';
import type { BackendExtension, BackendName } from './backend-extension.js';

/** Backends a user can ask for. `auto` tries them in order of speed. */
export type BackendRequest = 'auto' | BackendName;
export type { BackendName };

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
   * `tfjs-backend-wasm, 2 threads + 19 kernels from @unlearnjs/backend-wasm (…)`.
   */
  detail: string;
  /** XNNPACK threads the wasm backend runs (wasm only). */
  threads?: number;
  /** The extension given for this backend, whose kernels are registered (see {@link InitBackendOptions.extensions}). */
  extension?: BackendExtension;
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
   * Packages that extend a backend (training kernels, threads, memory planning, error
   * translation), e.g. `[wasmTrainingBackend]` from `@unlearnjs/backend-wasm`. The one whose
   * `backend` is chosen registers its kernels before the backend activates; at most one per
   * backend. @defaultValue none: the stock tfjs kernels
   */
  extensions?: readonly BackendExtension[];
  /**
   * Threads for the chosen backend, through its extension's `threads.enable` (an integer from 1
   * to its `threads.max`); backends whose extension does not run threads keep their default,
   * and the logger says so when more than 1 was asked. It takes effect only when the backend
   * initialises, once per process.
   * @defaultValue undefined: the backend's default (1 thread for wasm in Node)
   */
  threads?: number;
}

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

/**
 * Loads a backend's packages and activates it, calling `beforeActivate` (the extension's
 * threads and kernels) just before: kernels must be registered before the backend starts.
 */
type Loader = (load: (s: string) => Promise<unknown>, beforeActivate: () => Promise<void>) => Promise<string | Loaded>;

const loaders: Record<BackendName, Loader> = {
  async tensorflow(load, beforeActivate) {
    let lastErr: unknown;
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        await load(pkg);
        if (!tf.findBackend('tensorflow')) throw new Error(`${pkg} loaded but registered no 'tensorflow' backend`);
        await beforeActivate();
        await activate('tensorflow');
        return pkg;
      } catch (err) {
        lastErr = err;
      }
    }
    throw new Error(`neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is usable (${reason(lastErr)})`);
  },
  async webgpu(load, beforeActivate) {
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
    await beforeActivate();
    await activate('webgpu');
    return 'tfjs-backend-webgpu';
  },
  async wasm(load, beforeActivate) {
    const wasm = (await load('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount?: () => number };
    await beforeActivate();
    await activate('wasm');
    let threads: number | undefined;
    try {
      threads = wasm.getThreadsCount?.();
    } catch {
      threads = undefined; // not initialised through this copy of tfjs-backend-wasm
    }
    const shown = threads === undefined ? '' : `, ${threads} thread${threads === 1 ? '' : 's'}`;
    return { detail: `tfjs-backend-wasm${shown}`, threads };
  },
  async cpu(load, beforeActivate) {
    await load('@tensorflow/tfjs-backend-cpu');
    await beforeActivate();
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
 * The chosen backend's extension (from `extensions`) arranges `threads` and registers its
 * kernels just before the backend activates; the detail string names them, and `threads`
 * reports the thread count the backend actually runs. Core names no extension package: the
 * app imports one and passes it.
 *
 * @param request - the backend to use, or `auto` @defaultValue 'auto'
 * @param options - logger, backend extensions, threads and (for tests) the module loader
 * @returns the chosen backend, its extension and every attempt
 * @throws UnlearnError `UNLEARN_BACKEND_UNAVAILABLE` when the requested backend (or, for `auto`,
 *   every backend) cannot be used; the message says what to install. `UNLEARN_INVALID_OPTIONS`
 *   for an unknown backend name, two extensions for one backend, `threads` that is not a
 *   positive integer or exceeds the extension's `threads.max`, or threads the extension cannot
 *   arrange (e.g. the backend already runs another count: it cannot change within a process)
 *
 * @example
 * ```ts
 * import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
 *
 * const info = await initBackend('auto', { extensions: [wasmTrainingBackend], threads: 2 });
 * // prints e.g. "backend: wasm (tfjs-backend-wasm, 2 threads + 19 kernels from @unlearnjs/backend-wasm (…))"
 * const container = createContainer({ backend: info, use: [registerCoreModels] }); // train plans for its memory
 * ```
 */
export async function initBackend(request: BackendRequest = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  const logger = options.logger ?? createConsoleLogger();
  const load = options.importModule ?? defaultImport;
  const { threads: wanted } = options;
  if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 1)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `threads must be an integer >= 1, got ${String(wanted)}.`, {
      details: { threads: wanted },
    });
  }
  if (!['auto', ...BACKEND_ORDER].includes(request)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Unknown backend "${request}"; use one of auto, ${BACKEND_ORDER.join(', ')}.`, {
      details: { backend: request },
    });
  }
  const extensions = extensionsByBackend(options.extensions ?? []);
  for (const ext of extensions.values()) {
    if (wanted !== undefined && ext.threads !== undefined && wanted > ext.threads.max) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `threads must be an integer from 1 to ${ext.threads.max} for ${ext.name}, got ${wanted}.`,
        { details: { threads: wanted, max: ext.threads.max, extension: ext.name } },
      );
    }
  }
  const order = request === 'auto' ? BACKEND_ORDER : [request];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    try {
      const ext = extensions.get(name);
      let registered: readonly string[] = [];
      const beforeActivate = async () => {
        await arrangeThreads(name, ext, wanted, logger);
        registered = ext?.registerKernels() ?? [];
      };
      const loaded = await loaders[name](load, beforeActivate);
      const { detail: base, threads } = typeof loaded === 'string' ? { detail: loaded, threads: undefined } : loaded;
      const described = ext?.describe?.();
      const detail =
        ext === undefined ? base : `${base} + ${registered.length} kernels from ${ext.name}${described ? ` (${described})` : ''}`;
      attempts.push({ backend: name, ok: true, detail });
      const info: BackendInfo = {
        name,
        detail,
        attempts,
        ...(threads === undefined ? {} : { threads }),
        ...(ext === undefined ? {} : { extension: ext }),
      };
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
    wasm: 'install @tensorflow/tfjs-backend-wasm',
    cpu: 'install @tensorflow/tfjs-backend-cpu',
  };
  throw new UnlearnError(
    'UNLEARN_BACKEND_UNAVAILABLE',
    `No usable backend for "${request}": ${attempts.map((a) => `${a.backend}: ${a.detail}`).join('; ')}. To fix: ${order.map((n) => hints[n]).join('; or ')}.`,
    { details: { request, attempts } },
  );
}

/** The extensions by the backend they extend; two for one backend is the caller's mistake. */
function extensionsByBackend(list: readonly BackendExtension[]): Map<BackendName, BackendExtension> {
  const out = new Map<BackendName, BackendExtension>();
  for (const ext of list) {
    const other = out.get(ext.backend);
    if (other !== undefined && other !== ext) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `Two extensions for the ${ext.backend} backend (${other.name} and ${ext.name}); pass one.`,
        { details: { backend: ext.backend, extensions: [other.name, ext.name] } },
      );
    }
    out.set(ext.backend, ext);
  }
  return out;
}

/** Ask the extension for `wanted` threads before the backend starts, or say why it keeps its default. */
async function arrangeThreads(
  name: BackendName,
  ext: BackendExtension | undefined,
  wanted: number | undefined,
  logger: Logger,
): Promise<void> {
  if (wanted === undefined) return;
  if (ext?.threads === undefined) {
    if (wanted > 1)
      logger.warn(`threads: ${wanted} asked, but no extension given for the ${name} backend runs threads; it runs its default.`);
    return;
  }
  const r = await ext.threads.enable(wanted);
  if (r.warning !== undefined) logger.warn(r.warning);
}
