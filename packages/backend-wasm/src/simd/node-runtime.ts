// What the SIMD kernels need from Node, looked up at run time (the package also runs in browsers).

/** The parts of Node's `process` used here. */
export type NodeProcess = { getBuiltinModule?(id: string): unknown; env?: Record<string, string | undefined> };
/** The part of `node:fs` used here. */
export type NodeFs = { readFileSync(path: URL): Uint8Array };
/** The part of `node:v8` used here. */
export type NodeV8 = { setFlagsFromString(flags: string): void };
/** A `node:worker_threads` Worker, as used here. */
export type NodeWorker = { unref(): void; terminate(): Promise<number> };
/** The part of `node:worker_threads` used here. */
export type NodeWorkerThreads = {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;
};

/** Node's `process`, or undefined outside Node. */
export function nodeProcess(): NodeProcess | undefined {
  return (globalThis as { process?: NodeProcess }).process;
}
