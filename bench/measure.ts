/**
 * One benchmark measurement, run in a child process by bench/run.ts so that each measurement
 * gets a fresh wasm heap (its peak is its own, and a heap abort cannot take the others down).
 *
 * Usage: tsx --conditions=@unlearnjs/source bench/measure.ts '<json MeasureRequest>'
 * Prints one line `BENCH_RESULT {json}` on stdout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import {
  type BackendRequest,
  Rng,
  createContainer,
  createMemoryLogger,
  createModel,
  disposeVector,
  gradientsOf,
  initBackend,
  registerCoreModels,
} from '@unlearnjs/core';
import { type BenchMode, type BenchModel, MODEL_SPECS } from './configs.js';
import { cpuNow, median, stepClock, timeTrainingSteps } from './measure-utils.js';
import { withoutKernels } from './without-kernels.js';

/** What the parent asks for. */
export interface MeasureRequest {
  model: BenchModel;
  backend: BackendRequest;
  batch: number;
  mode: BenchMode;
  runs: number;
  warmup: number;
  /** Gradient accumulation in train mode (core's `microBatch`). */
  microBatch?: number;
  /** Samples per run in per-sample-grad mode. */
  samples?: number;
  /** wasm backend threads (core's `initBackend({ threads })`, through @unlearnjs/backend-wasm); wasm only. */
  wasmThreads?: number;
}

/** What the child reports. */
export interface MeasureResult {
  /** Seconds per run (after warm-up), in order. */
  seconds: number[];
  /** CPU seconds (user + system) of this process per run: less sensitive to other load. */
  cpuSeconds: number[];
  /** Images (or samples) per run. */
  imagesPerRun: number;
  peakRssMB: number;
  /** Size the wasm heap grew to, MB (wasm backend only). */
  wasmHeapMB?: number;
  /** Micro-batch core's train() chose to fit the wasm heap (no --micro-batch given). */
  plannedMicroBatch?: number;
  backendDetail: string;
  /** Threads the wasm backend ran (wasm only). */
  threads?: number;
  /** Warnings initBackend logged (e.g. a fallback to 1 thread). */
  warnings: string[];
}

async function main(): Promise<void> {
  const req = JSON.parse(process.argv[2] ?? '{}') as MeasureRequest;
  const logger = createMemoryLogger();
  const info = await initBackend(req.backend, {
    logger,
    extensions: [wasmTrainingBackend],
    threads: req.backend === 'wasm' ? req.wasmThreads : undefined,
  });
  await withoutKernels(process.env.BENCH_WITHOUT_KERNELS ?? '');
  const { progress, wall: stamps, cpu: cpuStamps } = stepClock();
  const container = createContainer({ seed: 1, use: [registerCoreModels], logger, progress });
  const spec = MODEL_SPECS[req.model];
  const model = createModel(container, spec.arch, spec.options as never);
  const rng = new Rng(7);
  const seconds: number[] = [];
  const cpuSeconds: number[] = [];
  let imagesPerRun = req.batch;
  let plannedMicroBatch: number | undefined;

  if (req.mode === 'train') {
    // One epoch of core's own train(): each batch is a full step (forward in training mode,
    // tf.variableGrads over model.trainableVariables(), SgdOptimizer update with masks, the
    // loss read back); the progress ticks time each step.
    const timed = await timeTrainingSteps(
      model,
      container,
      { wall: stamps, cpu: cpuStamps },
      {
        batch: req.batch,
        steps: req.runs,
        warmup: req.warmup,
        rng,
        label: 'bench',
        microBatch: req.microBatch,
      },
    );
    seconds.push(...timed.seconds);
    cpuSeconds.push(...timed.cpuSeconds);
    plannedMicroBatch = req.microBatch === undefined ? timed.report.microBatch : undefined;
  } else if (req.mode === 'infer') {
    const x = tf.randomUniform([req.batch, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    for (let r = 0; r < req.warmup + req.runs; r++) {
      const t0 = performance.now();
      const c0 = cpuNow();
      const out = tf.tidy(() => model.forward(x, { training: false }));
      out.dataSync();
      out.dispose();
      if (r >= req.warmup) {
        seconds.push((performance.now() - t0) / 1000);
        cpuSeconds.push(cpuNow() - c0);
      }
    }
    x.dispose();
  } else {
    // Per-sample gradients as Fisher forgetting needs them: batch-1 backward, squared and
    // accumulated into the diagonal of the empirical Fisher.
    const samples = req.samples ?? 8;
    imagesPerRun = samples;
    const x = tf.randomUniform([samples, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const y = tf.tensor1d(
      Array.from({ length: samples }, (_, i) => i % 10),
      'int32',
    );
    const vars = model.trainableVariables();
    for (let r = 0; r < req.warmup + req.runs; r++) {
      const t0 = performance.now();
      const c0 = cpuNow();
      const acc = new Map<string, tf.Tensor>();
      for (const [k, v] of vars) acc.set(k, tf.zerosLike(v));
      for (let i = 0; i < samples; i++) {
        const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]);
        const yi = tf.slice(y, [i], [1]);
        const g = gradientsOf(model, xi, yi);
        for (const [k, gk] of g) {
          const prev = acc.get(k) as tf.Tensor;
          acc.set(
            k,
            tf.tidy(() => tf.add(prev, tf.square(gk))),
          );
          prev.dispose();
        }
        disposeVector(g);
        xi.dispose();
        yi.dispose();
      }
      for (const t of acc.values()) t.dataSync();
      if (r >= req.warmup) {
        seconds.push((performance.now() - t0) / 1000);
        cpuSeconds.push(cpuNow() - c0);
      }
      for (const t of acc.values()) t.dispose();
    }
    x.dispose();
    y.dispose();
  }

  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const result: MeasureResult = {
    seconds,
    cpuSeconds,
    imagesPerRun,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    wasmHeapMB: backend.wasm?.HEAPU8 ? Math.round(backend.wasm.HEAPU8.byteLength / 2 ** 20) : undefined,
    backendDetail: info.detail,
    threads: info.threads,
    warnings: logger.lines.filter((l) => l.startsWith('warn:')),
    ...(plannedMicroBatch !== undefined ? { plannedMicroBatch } : {}),
  };
  model.dispose();
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ ...result, median: median(seconds) })}\n`);
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  process.stdout.write(`BENCH_ERROR ${JSON.stringify({ code: e?.code, message: String(e?.message ?? err).split('\n')[0] })}\n`);
  process.exit(2);
});
