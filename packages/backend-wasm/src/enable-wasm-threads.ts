import { setSimdThreads } from './simd/simd-module.js';
import * as tf from '@tensorflow/tfjs-core';

/** Options of {@link enableWasmThreads}. */
export interface WasmThreadsOptions {
  /**
   * XNNPACK threads, including the calling thread: an integer from 1 to 8 (tfjs-backend-wasm
   * pre-creates 8 workers, its maximum). 1 keeps the stock single-threaded SIMD binary.
   */
  threads: number;
  /**
   * Throw `WASM_THREADS_UNSUPPORTED` instead of falling back to 1 thread when this runtime cannot
   * run the threaded binary. @defaultValue false
   */
  strict?: boolean;
}

/** What {@link enableWasmThreads} arranged. */
export interface WasmThreadsResult {
  /** The thread count asked for. */
  requested: number;
  /**
   * Threads the wasm backend will run (or, when it already runs, runs): `requested`, or 1 after a
   * fallback.
   */
  threads: number;
  /** Why it fell back to 1 thread; the library prints nothing, the caller decides. */
  warning?: string;
  /** The worker script written for the pthreads (absent for 1 thread). */
  workerScript?: string;
}

/** The error codes {@link enableWasmThreads} throws (an `Error` with a `code` property). */
export type WasmThreadsErrorCode =
  | 'WASM_THREADS_INVALID_OPTIONS'
  | 'WASM_THREADS_UNSUPPORTED'
  | 'WASM_ALREADY_INITIALISED'
  | 'WASM_BACKEND_NOT_LOADED';

/** tfjs-backend-wasm 4.22 caps the threads at 8: it pre-creates 8 pthread workers. */
export const MAX_WASM_THREADS = 8;

function fail(code: WasmThreadsErrorCode, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

/** The parts of the tfjs-backend-wasm module used here. */
interface WasmBackendModule {
  setWasmPaths(prefix: string): void;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** The parts of tfjs-core's Engine used here (the backend registry is public but untyped in the exports). */
interface EngineLike {
  registry: Record<string, unknown>;
  registryFactory: Record<string, { factory: () => unknown; priority: number } | undefined>;
}

// The branch of tfjs's pthread worker that loads the main script: in Node it receives a Blob
// (tfjs sets `mainScriptUrlOrBlob` to one) and turns it into a `blob:` URL, which Node's
// `importScripts` shim (`fs.readFileSync`) cannot read. The worker file written here defines the
// factory itself, so the branch is dropped.
const LOAD_BRANCH =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

// wasm-feature-detect programs, the same tfjs uses: one SIMD instruction; one atomic load on a
// shared memory.
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11];
const THREADS_PROBE = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
];

const WRAPPED = Symbol.for('@unlearnjs/backend-wasm:threads-factory');

interface State {
  threads: number;
  workerScript: string;
}
let state: State | undefined;

/** Why the threaded binary cannot run here, or undefined when it can. */
function unsupportedReason(): string | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (typeof proc?.versions?.node !== 'string') {
    return 'enableWasmThreads() is for Node; in a browser tfjs-backend-wasm uses threads by itself when the page is cross-origin isolated';
  }
  if (typeof SharedArrayBuffer === 'undefined') return 'this runtime has no SharedArrayBuffer';
  try {
    if (!WebAssembly.validate(new Uint8Array(SIMD_PROBE))) return 'this runtime has no WebAssembly SIMD';
    if (!WebAssembly.validate(new Uint8Array(THREADS_PROBE))) return 'this runtime has no WebAssembly threads (shared memory, atomics)';
  } catch (err) {
    return `WebAssembly feature detection failed (${(err as Error).message})`;
  }
  return undefined;
}

/**
 * Writes the pthread worker script for the threaded-SIMD build of tfjs-backend-wasm, once per
 * content, and returns its path.
 *
 * @remarks
 * tfjs hands Emscripten a `blob:` URL for the worker and a Blob for the main script; Node's
 * `worker_threads` accepts neither. The file written here is the factory
 * (`wasm-out/tfjs-backend-wasm-threaded-simd.js`) followed by tfjs's worker code without its
 * Blob-loading branch, as a `.cjs` file (the worker code uses `require`) in the OS temp folder.
 */
async function writeWorkerScript(pkgDir: string): Promise<string> {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const os = await import('node:os');
  const crypto = await import('node:crypto');
  const { createRequire } = await import('node:module');
  const require = createRequire(path.join(pkgDir, 'package.json'));
  const factoryFile = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const workerModule = require(path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents?: unknown;
  };
  const worker = workerModule.wasmWorkerContents;
  if (typeof worker !== 'string' || !worker.includes(LOAD_BRANCH)) {
    throw new Error(
      'the pthread worker code of this tfjs-backend-wasm version is not the one this package knows (4.22); pin @tensorflow/tfjs-backend-wasm to 4.22.0',
    );
  }
  // The worker code comes from a template literal, so its "\\n" escapes are real newlines now, some
  // inside string literals: escape them back, as tfjs does before making its Blob.
  const workerCode = worker.replace(LOAD_BRANCH, '').replace(/\n/g, '\\n');
  const source = `${fs.readFileSync(factoryFile, 'utf8')}\n;${workerCode}\n`;
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'unlearnjs-wasm-threads');
  const file = path.join(dir, `tfjs-backend-wasm-threaded-simd-${hash}.worker.cjs`);
  if (fs.existsSync(file) && fs.statSync(file).size === Buffer.byteLength(source)) return file;
  fs.mkdirSync(dir, { recursive: true });
  // Write then rename, so that a process starting at the same time never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, source);
  fs.renameSync(tmp, file);
  return file;
}

/**
 * Runs the TensorFlow.js wasm backend with several threads in Node, where tfjs-backend-wasm 4.22
 * is otherwise single-threaded. Call it before the wasm backend initialises (before
 * `tf.setBackend('wasm')`, `tf.ready()` or core's `initBackend('wasm')`).
 *
 * @remarks
 * tfjs-backend-wasm hard-codes `WASM_HAS_MULTITHREAD_SUPPORT` to false in Node (tfjs issue
 * #3830), so `setThreadsCount` has no effect there. This function
 * 1. sets the `WASM_HAS_MULTITHREAD_SUPPORT` and `WASM_HAS_SIMD_SUPPORT` flags, so that the
 *    threaded-SIMD binary is chosen, and `setThreadsCount(threads)`;
 * 2. points `setWasmPaths` at the package's `dist/` folder, which holds
 *    `tfjs-backend-wasm-threaded-simd.wasm`;
 * 3. writes a pthread worker script to the OS temp folder (see `writeWorkerScript`: Node cannot
 *    start a worker from the `blob:` URL tfjs makes);
 * 4. wraps the registered 'wasm' backend factory so that, only while the backend initialises,
 *    `URL.createObjectURL` returns that script's path for tfjs's worker Blob and `os.cpus()`
 *    reports at least 2 × `threads` cores: tfjs caps the thread count at logical cores ÷ 2
 *    (assuming hyper-threading), which would give 1 thread on a 2-vCPU machine. Both are restored
 *    as soon as the backend exists.
 *
 * Element-wise ops, reductions and transposes stay single-threaded in tfjs-backend-wasm; XNNPACK
 * convolutions and matrix products use the threads. The pthread pool holds 8 workers whatever
 * `threads` is (tfjs pre-creates them); they are unref'd, so they do not keep the process alive
 * (the `threads − 1` running pool threads too, once the backend exists).
 *
 * Idempotent: calling it again before initialisation replaces the thread count; calling it after
 * initialisation with the thread count the backend already runs is a no-op.
 *
 * @param options - the thread count, and whether to throw rather than fall back
 * @returns what was arranged; `warning` says why it fell back to 1 thread (nothing is printed)
 * @throws Error with `code` `WASM_THREADS_INVALID_OPTIONS` when `threads` is not an integer in
 *   1..8; `WASM_ALREADY_INITIALISED` when the wasm backend already runs with another thread count
 *   (restart the process and call this first); `WASM_BACKEND_NOT_LOADED` when
 *   `@tensorflow/tfjs-backend-wasm` cannot be imported; `WASM_THREADS_UNSUPPORTED` when the runtime
 *   lacks threads and `strict` is set
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { enableWasmThreads, registerWasmTrainingKernels } from '@unlearnjs/backend-wasm';
 *
 * const { threads, warning } = await enableWasmThreads({ threads: 2 });
 * if (warning) console.warn(warning);
 * registerWasmTrainingKernels();
 * await tf.setBackend('wasm');
 * ```
 */
export async function enableWasmThreads(options: WasmThreadsOptions): Promise<WasmThreadsResult> {
  const requested = options?.threads;
  if (!Number.isInteger(requested) || requested < 1 || requested > MAX_WASM_THREADS) {
    throw fail(
      'WASM_THREADS_INVALID_OPTIONS',
      `threads must be an integer from 1 to ${MAX_WASM_THREADS} (tfjs-backend-wasm's maximum), got ${String(requested)}.`,
    );
  }
  let wasmModule: WasmBackendModule;
  try {
    // Imported here, not at the top: importing this package must register nothing, and the wasm
    // backend registers itself when imported.
    wasmModule = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmBackendModule;
  } catch (err) {
    throw fail('WASM_BACKEND_NOT_LOADED', 'Cannot import @tensorflow/tfjs-backend-wasm: install it (4.22) to use the wasm backend.', err);
  }
  const engine = tf.engine() as unknown as EngineLike;
  let running: number | undefined;
  try {
    running = wasmModule.getThreadsCount();
  } catch {
    running = undefined; // "WASM backend not initialized."
  }
  if (running !== undefined || engine.registry.wasm !== undefined) {
    const current = running ?? 1;
    if (current === requested) return { requested, threads: current, ...(state ? { workerScript: state.workerScript } : {}) };
    throw fail(
      'WASM_ALREADY_INITIALISED',
      `The wasm backend is already initialised with ${current} thread${current === 1 ? '' : 's'}; the thread count cannot change afterwards. Call enableWasmThreads({ threads: ${requested} }) before tf.setBackend('wasm') / initBackend('wasm'), in a fresh process.`,
    );
  }
  const entry = engine.registryFactory.wasm;
  if (entry === undefined) {
    throw fail(
      'WASM_BACKEND_NOT_LOADED',
      "@tensorflow/tfjs-backend-wasm registered no 'wasm' backend with this copy of @tensorflow/tfjs-core; install one copy of each.",
    );
  }

  if (requested === 1) {
    disable(wasmModule);
    setSimdThreads(1);
    return { requested, threads: 1 };
  }
  const why = unsupportedReason();
  let workerScript: string | undefined;
  let pkgDir = '';
  let problem = why;
  if (problem === undefined) {
    try {
      const path = await import('node:path');
      const { createRequire } = await import('node:module');
      pkgDir = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      const fs = await import('node:fs');
      if (!fs.existsSync(path.join(pkgDir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm'))) {
        throw new Error(`${path.join(pkgDir, 'dist')} has no tfjs-backend-wasm-threaded-simd.wasm`);
      }
      workerScript = await writeWorkerScript(pkgDir);
    } catch (err) {
      problem = `cannot prepare the threaded wasm binary: ${(err as Error).message}`;
    }
  }
  if (problem !== undefined || workerScript === undefined) {
    const message = `wasm threads unavailable (${problem}); running 1 thread.`;
    if (options.strict)
      throw fail('WASM_THREADS_UNSUPPORTED', `Cannot run the wasm backend with ${requested} threads: ${problem}. Use threads: 1.`);
    disable(wasmModule);
    return { requested, threads: 1, warning: message };
  }

  const path = await import('node:path');
  const os = (await import('node:os')).default;
  tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasmModule.setThreadsCount(requested);
  wasmModule.setWasmPaths(`${path.join(pkgDir, 'dist')}${path.sep}`);
  state = { threads: requested, workerScript };

  const factory = entry.factory as (() => unknown) & { [WRAPPED]?: () => unknown };
  const original = factory[WRAPPED] ?? factory;
  const wrapped = Object.assign(
    async () => {
      const threads = state?.threads ?? 1;
      const script = state?.workerScript;
      const cpus = os.cpus;
      const createObjectURL = URL.createObjectURL;
      if (script !== undefined && threads > 1) {
        // tfjs-backend-wasm computes its core count once, while the module instantiates.
        os.cpus = () => {
          const list = cpus.call(os);
          const need = 2 * threads;
          if (list.length >= need || list.length === 0) return list;
          return Array.from({ length: need }, (_, i) => list[i % list.length]);
        };
        URL.createObjectURL = (obj: Blob | MediaSource) =>
          obj instanceof Blob && obj.type === 'application/javascript' ? script : createObjectURL.call(URL, obj as Blob);
      }
      try {
        const backend = await original();
        // Emscripten refs the Node worker of every running pthread, and XNNPACK's pool threads run
        // (idle, waiting on a futex) for the life of the backend: without this the process would
        // never exit once its work is done.
        const pthreads = (backend as { wasm?: { PThread?: { runningWorkers?: Array<{ unref?: () => void }> } } }).wasm?.PThread;
        for (const worker of pthreads?.runningWorkers ?? []) worker.unref?.();
        return backend;
      } finally {
        os.cpus = cpus;
        URL.createObjectURL = createObjectURL;
      }
    },
    { [WRAPPED]: original },
  );
  entry.factory = wrapped;
  // The package's own SIMD kernels split their calls over as many threads.
  setSimdThreads(requested);
  return { requested, threads: requested, workerScript };
}

/** Puts the single-threaded configuration back (before initialisation). */
function disable(wasmModule: WasmBackendModule): void {
  if (state === undefined) return;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasmModule.setThreadsCount(1);
  state = undefined;
}
