/**
 * Per-sample gradients (influence's WoodFisher) and Fisher's diagonal: the per-image /
 * per-class reference paths against the batched ones, on ResNet-18 w16 and w64, 1 and 2 wasm
 * threads. Each configuration runs in its own child process (the thread count is fixed when the
 * backend starts), one after the other, so the two paths of a line are measured back to back.
 *
 * Usage: pnpm bench:per-sample [--models resnet18-w16,resnet18-w64] [--threads 1,2] [--runs 2]
 *        [--quick]
 * Prints one JSON line per (model, threads, workload) with samples/s of both paths and the
 * ratio, `loadavg` the 1-minute load average before it.
 *
 * Workloads:
 * - `per-sample-grad`: per-sample gradients with Σ g² accumulated (what `pnpm bench`'s
 *   `per-sample-grad` mode times): one backward pass per image vs core's
 *   `batchedPerSampleGradients` in chunks;
 * - `woodfisher`: influence's WoodFisher estimate end to end (gradients + recursion):
 *   `woodFisherSolve` over per-image gradients vs `woodFisherSolveBatched`;
 * - `fisher-diagonal`: Fisher forgetting's diagonal (`fisherDiagonal`), `per-class` vs
 *   `batched`, batch 32 (w16) or 16 (w64).
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import {
  type ParamVector,
  Rng,
  createContainer,
  createMemoryLogger,
  createModel,
  batchedPerSampleGradients,
  batches,
  disposeVector,
  fullSubset,
  perSampleChunkSize,
  initBackend,
  registerCoreModels,
} from '@unlearnjs/core';
// The root workspace does not depend on these two packages: import their sources.
import { fisherDiagonal } from '../packages/unlearn-fisher/src/index.js';
import { perSampleGradients, woodFisherSolve, woodFisherSolveBatched } from '../packages/unlearn-influence/src/index.js';
import { cpuNow, median, syntheticImages } from './measure-utils.js';

const SELF = fileURLToPath(import.meta.url);

type Workload = 'per-sample-grad' | 'woodfisher' | 'fisher-diagonal';

interface ChildRequest {
  width: number;
  threads: number;
  runs: number;
  samples: number;
  fisherBatch: number;
}

interface Timing {
  seconds: number[];
  cpuSeconds: number[];
}

function time(runs: number, warmup: number, fn: () => void): Timing {
  const seconds: number[] = [];
  const cpuSeconds: number[] = [];
  for (let r = 0; r < warmup + runs; r++) {
    const t0 = performance.now();
    const c0 = cpuNow();
    fn();
    if (r >= warmup) {
      seconds.push((performance.now() - t0) / 1000);
      cpuSeconds.push(cpuNow() - c0);
    }
  }
  return { seconds, cpuSeconds };
}

async function child(req: ChildRequest): Promise<void> {
  const info = await initBackend('wasm', { logger: createMemoryLogger(), extensions: [wasmTrainingBackend], threads: req.threads });
  const container = createContainer({ seed: 1, use: [registerCoreModels] });
  const model = createModel(container, 'resnet18', { width: req.width });
  const set = syntheticImages(req.samples, new Rng(5));
  const subset = fullSubset(set);
  const out: Record<string, unknown>[] = [];

  // Σ_i g_i² per parameter: per image (batch-1 backward passes, as `pnpm bench`'s per-sample-grad
  // mode), or from stacked per-sample gradients (core's batchedPerSampleGradients, in chunks).
  const finish = (acc: ParamVector) => {
    tf.tidy(() => tf.addN([...acc.values()].map((t) => tf.sum(t)))).dataSync();
    disposeVector(acc);
  };
  const accumulate = (acc: ParamVector, k: string, term: () => tf.Tensor) => {
    const prev = acc.get(k);
    acc.set(
      k,
      tf.tidy(() => (prev ? tf.add(prev, term()) : term())),
    );
    prev?.dispose();
  };
  const sumOfSquares = (method: 'per-image' | 'batched') => () => {
    const acc: ParamVector = new Map();
    if (method === 'per-image') {
      for (const g of perSampleGradients(model, subset, { method })) {
        for (const [k, gk] of g) accumulate(acc, k, () => tf.square(gk));
        disposeVector(g);
      }
    } else {
      const batchSize = perSampleChunkSize(model.trainableVariables());
      for (const b of batches(subset, { batchSize })) {
        const g = batchedPerSampleGradients(model, b.x, b.y);
        tf.dispose([b.x, b.y]);
        for (const [k, gk] of g) accumulate(acc, k, () => tf.sum(tf.square(gk), 0));
        disposeVector(g);
      }
    }
    finish(acc);
  };
  const wood = (method: 'per-image' | 'batched') => () => {
    const v = new Map([...model.trainableVariables()].map(([k, p]) => [k, tf.tidy(() => tf.mul(p, 1e-3))]));
    const { direction } =
      method === 'per-image'
        ? woodFisherSolve(v, perSampleGradients(model, subset, { method }), { damping: req.samples })
        : woodFisherSolveBatched(model, v, subset, { damping: req.samples });
    disposeVector(direction);
  };
  const fisherSubset = { source: set, indices: subset.indices.subarray(0, req.fisherBatch) };
  const fisher = (method: 'per-class' | 'batched') => () => {
    const { diagonal } = fisherDiagonal(model, fisherSubset, { batchSize: req.fisherBatch, method });
    disposeVector(diagonal);
  };

  // Equality on this backend (fused kernels, threads): the first two samples' gradients.
  const firstTwo = { source: set, indices: subset.indices.subarray(0, 2) };
  const ref = [...perSampleGradients(model, firstTwo, { method: 'per-image' })];
  const got = [...perSampleGradients(model, firstTwo, { method: 'batched' })];
  let num = 0;
  let den = 0;
  for (let i = 0; i < 2; i++) {
    for (const [k, t] of ref[i]) {
      const [d, n] = tf.tidy(() => [
        tf.sum(tf.square(tf.sub(got[i].get(k) as tf.Tensor, t))).dataSync()[0],
        tf.sum(tf.square(t)).dataSync()[0],
      ]);
      num += d;
      den += n;
    }
  }
  for (const g of [...ref, ...got]) disposeVector(g);
  const relativeError = Math.sqrt(num / den);
  // And Fisher's diagonal on four images.
  const four = { source: set, indices: subset.indices.subarray(0, 4) };
  const hRef = fisherDiagonal(model, four, { batchSize: 4, method: 'per-class' }).diagonal;
  const hGot = fisherDiagonal(model, four, { batchSize: 4, method: 'batched' }).diagonal;
  let fisherWorst = 0;
  for (const [k, t] of hRef) {
    const e = tf.tidy(() => tf.div(tf.norm(tf.sub(hGot.get(k) as tf.Tensor, t)), tf.norm(t)).dataSync()[0]);
    fisherWorst = Math.max(fisherWorst, e);
  }
  disposeVector(hRef);
  disposeVector(hGot);

  const workloads: Array<[Workload, number, [string, () => void], [string, () => void]]> = [
    ['per-sample-grad', req.samples, ['per-image', sumOfSquares('per-image')], ['batched', sumOfSquares('batched')]],
    ['woodfisher', req.samples, ['per-image', wood('per-image')], ['batched', wood('batched')]],
    ['fisher-diagonal', req.fisherBatch, ['per-class', fisher('per-class')], ['batched', fisher('batched')]],
  ];
  for (const [workload, samples, [refName, refFn], [newName, newFn]] of workloads) {
    const load = loadavg()[0];
    const a = time(req.runs, 1, refFn);
    const b = time(req.runs, 1, newFn);
    const rate = (t: Timing) => samples / median(t.seconds);
    const cpuRate = (t: Timing) => samples / median(t.cpuSeconds);
    out.push({
      model: `resnet18-w${req.width}`,
      threads: info.threads ?? req.threads,
      workload,
      samples,
      [`${refName}SamplesPerSecond`]: +rate(a).toFixed(2),
      [`${newName}SamplesPerSecond`]: +rate(b).toFixed(2),
      ratio: +(rate(b) / rate(a)).toFixed(2),
      [`${refName}SamplesPerCpuSecond`]: +cpuRate(a).toFixed(2),
      [`${newName}SamplesPerCpuSecond`]: +cpuRate(b).toFixed(2),
      seconds: { [refName]: a.seconds.map((s) => +s.toFixed(3)), [newName]: b.seconds.map((s) => +s.toFixed(3)) },
      // ‖batched − reference‖/‖reference‖ on this backend: per-sample gradients of the first two
      // images (whole vector), Fisher's diagonal of four images (worst parameter).
      relativeError: workload === 'fisher-diagonal' ? fisherWorst : relativeError,
      loadavg: +load.toFixed(2),
    });
  }
  const backend = tf.backend() as { wasm?: { HEAPU8?: Uint8Array } };
  for (const o of out) {
    o.peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
    o.wasmHeapMB = backend.wasm?.HEAPU8 ? Math.round(backend.wasm.HEAPU8.byteLength / 2 ** 20) : undefined;
    process.stdout.write(`PER_SAMPLE_RESULT ${JSON.stringify(o)}\n`);
  }
  model.dispose();
}

function runChild(req: ChildRequest, timeoutS: number): Promise<Record<string, unknown>[] | { error: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...process.execArgv, SELF, '--child', JSON.stringify(req)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutS * 1000);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = [...out.matchAll(/^PER_SAMPLE_RESULT (.*)$/gm)].map((m) => JSON.parse(m[1]) as Record<string, unknown>);
      if (lines.length > 0) return resolve(lines);
      const tail = err.trim().split('\n').slice(-3).join(' | ').slice(0, 400);
      resolve({ error: `${signal === 'SIGKILL' ? `timed out after ${timeoutS} s` : `exited with ${code ?? signal}`}: ${tail}` });
    });
  });
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(JSON.parse(process.argv[3]) as ChildRequest);
  const quick = process.argv.includes('--quick');
  const models = (arg('models') ?? 'resnet18-w16,resnet18-w64').split(',');
  const threads = (arg('threads') ?? '1,2').split(',').map(Number);
  const runs = Number(arg('runs') ?? (quick ? 1 : 2));
  for (const m of models) {
    const width = Number(m.replace('resnet18-w', ''));
    const small = width <= 16;
    for (const t of threads) {
      const req: ChildRequest = {
        width,
        threads: t,
        runs,
        samples: quick ? (small ? 16 : 4) : small ? 64 : 16,
        fisherBatch: quick ? 8 : small ? 32 : 16,
      };
      const r = await runChild(req, 1800);
      if ('error' in r) process.stdout.write(`${JSON.stringify({ model: m, threads: t, error: r.error })}\n`);
      else for (const line of r) process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
