import type { DataType, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The parts of tfjs-backend-wasm's `BackendWasm` (4.22) that these kernels touch.
 *
 * @remarks
 * Declared here rather than imported so that the package has no runtime or type-level import of
 * the wasm backend: the app imports `@tensorflow/tfjs-backend-wasm`, this package only adds
 * kernels to it. `dataIdNextNumber` and the `wasm.tfjs` helpers are internal to the backend; they
 * are used only to make zero-copy views for per-batch matMul (see `batch-mat-mul.ts`).
 */
export interface WasmBackendLike {
  wasm: {
    cwrap(name: string, returnType: null, argTypes: string[]): (...args: unknown[]) => void;
    HEAPU8: Uint8Array;
    _malloc(bytes: number): number;
    _free(at: number): void;
    /** The heap's memory in the threaded build (shared). */
    wasmMemory?: WebAssembly.Memory;
    /** The module's exports; `memory` is the heap in the single-threaded builds. */
    asm?: { memory?: WebAssembly.Memory };
    tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  readSync(dataId: object): unknown;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Stock wasm kernel functions, captured when the training kernels were registered. */
export type StockKernels = ReadonlyMap<string, KernelFunc>;

/**
 * Runs stock wasm kernels on behalf of one kernel call and frees every intermediate it made.
 *
 * @remarks
 * Kernels called directly through their `kernelFunc` bypass the engine, so their outputs are
 * raw `TensorInfo`s on the wasm heap that nothing else will ever free: each one is recorded here
 * and released by {@link KernelScope.finish} (or {@link KernelScope.abort} on an exception).
 * Reshape outputs share their input's buffer with an extra reference count, so disposing the
 * reshaped intermediate and keeping the result (or vice versa) is always correct.
 */
export class KernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(
    readonly backend: WasmBackendLike,
    private readonly stock: StockKernels,
  ) {}

  /** Runs the stock wasm kernel `name` and records its output as an intermediate. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const fn = this.stock.get(name);
    if (fn === undefined) {
      throw Object.assign(
        new Error(
          `The stock wasm kernel '${name}' was not captured; call registerWasmTrainingKernels() after importing '@tensorflow/tfjs-backend-wasm'.`,
        ),
        {
          code: 'WASM_KERNEL_MISSING',
        },
      );
    }
    const out = fn({ inputs, backend: this.backend, attrs }) as TensorInfo;
    this.temps.push(out);
    return out;
  }

  /** Records a tensor made outside {@link KernelScope.run} (e.g. `backend.makeOutput`). */
  track(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Crops `x` to `[begin, begin + size)` (the stock Slice copies its whole input first: use sparingly). */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /** Frees every intermediate except `result`, and returns `result`. */
  finish(result: TensorInfo): TensorInfo {
    for (const t of this.temps) {
      if (t !== result) this.backend.disposeData(t.dataId);
    }
    this.temps.length = 0;
    return result;
  }

  /** Frees every intermediate; used when a kernel throws. */
  abort(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` with a fresh scope; frees the scope's intermediates whatever happens. */
export function withScope(backend: WasmBackendLike, stock: StockKernels, body: (scope: KernelScope) => TensorInfo): TensorInfo {
  const scope = new KernelScope(backend, stock);
  let result: TensorInfo;
  try {
    result = body(scope);
  } catch (err) {
    scope.abort();
    throw err;
  }
  return scope.finish(result);
}
