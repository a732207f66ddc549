import type { UnlearnError } from '../errors/unlearn-error.js';

/** A concrete tfjs backend core can activate. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/**
 * How much memory a training pass may plan to use on a backend with a hard limit (the 32-bit
 * wasm heap), for {@link planTrainingMemory}.
 */
export interface MemoryLimit {
  /** Bytes the backend can address, e.g. 4 GiB for wasm. */
  bytes: number;
  /**
   * Share of `bytes` a pass may plan for: the rest covers what the engine does not count
   * (kernel temporaries, workspaces, allocator fragmentation).
   */
  planShare: number;
  /** How messages name the memory, e.g. `the 4 GiB wasm heap`. */
  label: string;
}

/** What {@link BackendExtension.translateError} knows about the step that failed. */
export interface FailedStep {
  /** Images in the batch. */
  batch: number;
  /** Images per forward/backward pass, when the batch was split. */
  microBatch?: number;
}

/**
 * What a package that extends a tfjs backend hands to core: the backend seam. Core knows no
 * backend package by name; the app (or the CLI) imports one, e.g. `wasmTrainingBackend` of
 * `@unlearnjs/backend-wasm`, and passes it to `initBackend(request, { extensions: [...] })`.
 * The chosen one is reported in {@link BackendInfo.extension}, and reaches `train` through
 * `createContainer({ backend })` and the run's services.
 *
 * @remarks A plain value, like a tfjs `KernelConfig`: importing the package that exports it
 * registers nothing; `initBackend` calls {@link BackendExtension.registerKernels} before it
 * activates `backend`. The fused kernels core asks for by name are listed in
 * `FUSED_BATCH_NORM_KERNEL` and its siblings.
 */
export interface BackendExtension {
  /** The tfjs backend this extends. */
  readonly backend: BackendName;
  /** Who provides it, as the backend line names it, e.g. `@unlearnjs/backend-wasm`. */
  readonly name: string;
  /**
   * Register the extension's kernels for {@link BackendExtension.backend}; a second call is a
   * no-op. Called before the backend activates.
   * @returns the names of the kernels registered by this call
   */
  registerKernels(): readonly string[];
  /** A few words for the backend line after the kernel count, e.g. `own SIMD kernels with FMA, 2 threads`. */
  describe?(): string | undefined;
  /**
   * Running several threads, where the backend can. `initBackend({ threads })` calls
   * `enable` before the backend initialises.
   */
  readonly threads?: {
    /** The most threads `enable` accepts. */
    readonly max: number;
    /**
     * Arrange `threads` threads for the backend, before it initialises.
     * @returns the threads it will run and, when fewer than asked, why
     * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when it cannot (too late in the process,
     *   a count out of range)
     */
    enable(threads: number): Promise<{ threads: number; warning?: string }>;
  };
  /** The memory limit training plans against, for a backend that has one. */
  readonly memory?: MemoryLimit;
  /**
   * Turn a failure of the backend during a training step into a coded error that says what to
   * do next (e.g. the wasm module aborting when its heap is full).
   * @param err - what the step threw (never an `UnlearnError`)
   * @param step - the batch being trained
   * @returns the coded error (with `err` as its cause), or `undefined` when `err` is not the
   *   backend's
   */
  translateError?(err: unknown, step: FailedStep): UnlearnError | undefined;
}
