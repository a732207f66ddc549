/**
 * Throughput benchmark of unlearnjs training and inference on every available tfjs backend,
 * with the PyTorch peer for comparison.
 *
 *   pnpm bench [--quick] [--models resnet18-w16,vit-192x6] [--backends wasm,cpu]
 *              [--batches 64,128] [--modes train,infer,per-sample-grad] [--runs 5]
 *              [--micro-batch N] [--no-peer] [--timeout 600] [--cpu-limit 150] [--wasm-threads N]
 *   BENCH_WITHOUT_KERNELS=Identity,Sum,Mean pnpm bench ...   (A/B: without these wasm kernels)
 *
 * Prints one JSON line per measurement on stdout (progress on stderr):
 *   { model, backend, batch, mode, imagesPerSecond, gflops, peakRssMB, runs, ... }
 * `imagesPerSecond` is the median over `runs` timed runs after warm-up; `gflops` is effective:
 * forward FLOPs per image × images/s × 3 for train and per-sample-grad (forward + backward),
 * × 1 for infer. Lines with `status: "skipped" | "error"` say why nothing was
 * measured. Each measurement runs in its own child process (fresh wasm heap, so `peakRssMB` and
 * `wasmHeapMB` are its own and a heap abort cannot end the benchmark).
 * `--wasm-threads N` runs the wasm backend with N threads (core's `initBackend({ threads })`);
 * wasm lines then carry `threads`. `imagesPerCpuSecond` counts every thread's CPU time, so with
 * threads compare `imagesPerSecond` (wall clock), measured back to back.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import { type BackendName, BACKEND_ORDER, createMemoryLogger, initBackend } from '@unlearnjs/core';
import { ALL_MODELS, ALL_MODES, type BenchMode, type BenchModel, FORWARD_GFLOP, PEER_ARGS, slowSkip } from './configs.js';
import type { MeasureRequest } from './measure.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

interface Args {
  models: BenchModel[];
  backends: BackendName[];
  batches: number[];
  modes: BenchMode[];
  runs: number;
  warmup: number;
  microBatch?: number;
  peer: boolean;
  timeoutS: number;
  cpuLimitS: number;
  quick: boolean;
  wasmThreads?: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (name: string): string[] | undefined =>
    get(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const quick = argv.includes('--quick');
  const args: Args = {
    models: (list('models') as BenchModel[]) ?? (quick ? ['resnet18-w16', 'vit-192x6'] : [...ALL_MODELS]),
    backends: (list('backends') as BackendName[]) ?? (quick ? ['wasm', 'cpu'] : [...BACKEND_ORDER]),
    batches: list('batches')?.map(Number) ?? (quick ? [64] : [64, 128]),
    modes: (list('modes') as BenchMode[]) ?? [...ALL_MODES],
    runs: Number(get('runs') ?? (quick ? 3 : 5)),
    warmup: Number(get('warmup') ?? (quick ? 1 : 2)),
    microBatch: get('micro-batch') ? Number(get('micro-batch')) : undefined,
    peer: !argv.includes('--no-peer'),
    timeoutS: Number(get('timeout') ?? 600),
    cpuLimitS: Number(get('cpu-limit') ?? (quick ? 30 : 150)),
    quick,
    wasmThreads: get('wasm-threads') ? Number(get('wasm-threads')) : undefined,
  };
  for (const m of args.models) if (!ALL_MODELS.includes(m)) throw new Error(`Unknown model "${m}"; use ${ALL_MODELS.join(', ')}.`);
  for (const m of args.modes) if (!ALL_MODES.includes(m)) throw new Error(`Unknown mode "${m}"; use ${ALL_MODES.join(', ')}.`);
  for (const b of args.backends)
    if (!BACKEND_ORDER.includes(b)) throw new Error(`Unknown backend "${b}"; use ${BACKEND_ORDER.join(', ')}.`);
  if (args.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error('--batches takes positive integers, e.g. 64,128.');
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs takes a positive integer.');
  if (args.wasmThreads !== undefined && (!Number.isInteger(args.wasmThreads) || args.wasmThreads < 1 || args.wasmThreads > 8)) {
    throw new Error('--wasm-threads takes an integer from 1 to 8.');
  }
  return args;
}

const emit = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...line, loadavg: Number(os.loadavg()[0].toFixed(2)) })}\n`);
};
const note = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs bench/measure.ts in a child (same Node flags: tsx loader, source condition). */
function measureInChild(
  req: MeasureRequest,
  timeoutS: number,
): Promise<{ ok: true; r: Record<string, unknown> } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, path.join(HERE, 'measure.ts'), JSON.stringify(req)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ok = out.match(/^BENCH_RESULT (.*)$/m);
      if (ok) return resolve({ ok: true, r: JSON.parse(ok[1]) });
      const bad = out.match(/^BENCH_ERROR (.*)$/m);
      if (bad) return resolve({ ok: false, error: (JSON.parse(bad[1]) as { message: string }).message });
      const why = signal === 'SIGKILL' ? `timed out after ${timeoutS} s` : `exited with ${code ?? signal}`;
      const tail = (
        err
          .trim()
          .split('\n')
          .filter((l) => /error|abort|memory|signature/i.test(l))
          .pop() ??
        err.trim().split('\n').pop() ??
        ''
      ).slice(0, 300);
      resolve({ ok: false, error: `${why}${tail ? `: ${tail}` : ''}` });
    });
  });
}

async function availableBackends(requested: BackendName[]): Promise<BackendName[]> {
  const ok: BackendName[] = [];
  for (const b of requested) {
    try {
      const info = await initBackend(b, { logger: createMemoryLogger(), extensions: [wasmTrainingBackend] });
      ok.push(b);
      note(`backend ${b}: ${info.detail}`);
    } catch (e) {
      emit({ backend: b, status: 'skipped', reason: `backend unavailable: ${(e as Error).message.split('. To fix')[0]}` });
    }
  }
  return ok;
}

interface Measured {
  model: BenchModel;
  backend: BackendName;
  batch: number;
  mode: BenchMode;
  imagesPerSecond: number;
}

async function measure(args: Args, req: MeasureRequest, measured: Measured[]): Promise<void> {
  const key = {
    model: req.model,
    backend: req.backend as BackendName,
    batch: req.mode === 'per-sample-grad' ? 1 : req.batch,
    mode: req.mode,
  };
  const mb = req.microBatch !== undefined && req.microBatch < req.batch ? { microBatch: req.microBatch } : {};
  note(`${JSON.stringify({ ...key, ...mb })} ...`);
  const res = await measureInChild(req, args.timeoutS);
  if (!res.ok) {
    emit({ ...key, ...mb, status: 'error', error: res.error });
    return;
  }
  const r = res.r as {
    seconds: number[];
    cpuSeconds: number[];
    imagesPerRun: number;
    peakRssMB: number;
    wasmHeapMB?: number;
    backendDetail: string;
    threads?: number;
    warnings?: string[];
    plannedMicroBatch?: number;
  };
  const ips = r.imagesPerRun / median(r.seconds);
  const factor = req.mode === 'infer' ? 1 : 3;
  emit({
    ...key,
    ...mb,
    imagesPerSecond: Number(ips.toFixed(2)),
    gflops: Number((FORWARD_GFLOP[req.model] * ips * factor).toFixed(2)),
    peakRssMB: r.peakRssMB,
    ...(r.wasmHeapMB !== undefined ? { wasmHeapMB: r.wasmHeapMB } : {}),
    ...(r.threads !== undefined ? { threads: r.threads } : {}),
    ...(r.plannedMicroBatch !== undefined ? { plannedMicroBatch: r.plannedMicroBatch } : {}),
    ...(r.warnings?.length ? { warnings: r.warnings } : {}),
    runs: r.seconds.length,
    secondsPerRun: r.seconds.map((s) => Number(s.toFixed(3))),
    // Images per CPU-second of this process: compares runs taken under different load.
    imagesPerCpuSecond: Number((r.imagesPerRun / median(r.cpuSeconds)).toFixed(2)),
  });
  if (!req.microBatch || req.microBatch >= req.batch) measured.push({ ...key, imagesPerSecond: ips });
}

function torchAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

function sharedDir(): string | undefined {
  const candidates = [process.env.SHARED_DIR, path.resolve(HERE, '../../shared'), path.resolve(HERE, '../shared')].filter(
    Boolean,
  ) as string[];
  return candidates.find((d) => existsSync(path.join(d, 'peers', 'torch_throughput.py')));
}

function runPeer(args: Args, measured: Measured[]): void {
  const shared = sharedDir();
  if (!shared) {
    emit({ peer: 'pytorch', status: 'skipped', reason: 'peers/torch_throughput.py not found: set SHARED_DIR to the shared folder' });
    return;
  }
  if (!torchAvailable()) {
    emit({
      peer: 'pytorch',
      status: 'skipped',
      reason: '/usr/bin/python3 cannot import torch: apt-get install -y python3-torch libopenblas0-pthread',
    });
    return;
  }
  const script = path.join(shared, 'peers', 'torch_throughput.py');
  for (const model of args.models) {
    for (const batch of args.batches) {
      const ours = measured.filter((m) => m.model === model && m.batch === batch);
      if (ours.length === 0) continue;
      note(`pytorch peer ${model} batch ${batch} ...`);
      let peer: { train_img_per_s: number; infer_img_per_s: number; peer: string };
      try {
        const out = execFileSync('/usr/bin/python3', [script, '--threads', '2', ...PEER_ARGS[model], '--batch', String(batch)], {
          // OpenBLAS's own spinning threads fight PyTorch's: one BLAS thread, PyTorch's two.
          env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
          encoding: 'utf8',
          timeout: args.timeoutS * 1000,
        });
        peer = JSON.parse(out.trim().split('\n').pop() as string);
      } catch (e) {
        emit({ peer: 'pytorch', model, batch, status: 'error', error: String((e as Error).message).split('\n')[0] });
        continue;
      }
      emit({
        peer: peer.peer,
        model,
        batch,
        threads: 2,
        trainImagesPerSecond: peer.train_img_per_s,
        inferImagesPerSecond: peer.infer_img_per_s,
      });
      for (const m of ours) {
        const torch = m.mode === 'train' ? peer.train_img_per_s : m.mode === 'infer' ? peer.infer_img_per_s : undefined;
        if (torch === undefined) continue;
        emit({
          ratio: 'tfjs/torch',
          model,
          backend: m.backend,
          batch,
          mode: m.mode,
          tfjs: Number(m.imagesPerSecond.toFixed(2)),
          torch,
          value: Number((m.imagesPerSecond / torch).toFixed(4)),
        });
      }
    }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  note(
    `cpu: ${os.cpus()[0]?.model} x${os.cpus().length}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const backends = await availableBackends(args.backends);
  const measured: Measured[] = [];
  for (const backend of backends) {
    for (const model of args.models) {
      for (const mode of args.modes) {
        const batches = mode === 'per-sample-grad' ? [args.batches[0]] : args.batches;
        for (const batch of batches) {
          const slow = backend === 'cpu';
          const runs = slow ? Math.min(args.runs, 3) : args.runs;
          const warmup = slow ? 1 : args.warmup;
          const samples = model === 'resnet18-w64' ? 4 : 8;
          const images = mode === 'per-sample-grad' ? samples * (runs + warmup) : batch * (runs + warmup);
          const key = { model, backend, batch: mode === 'per-sample-grad' ? 1 : batch, mode };
          const skip = slowSkip(model, backend, mode, images, args.cpuLimitS);
          if (skip) {
            emit({ ...key, status: 'skipped', reason: skip });
            continue;
          }
          const req: MeasureRequest = {
            model,
            backend,
            batch,
            mode,
            runs,
            warmup,
            samples,
            microBatch: args.microBatch,
            ...(backend === 'wasm' && args.wasmThreads !== undefined ? { wasmThreads: args.wasmThreads } : {}),
          };
          // Batches too large for the wasm heap need no special case: core's train() plans the
          // images per pass before the first step and reports the micro-batch it chose.
          await measure(args, req, measured);
        }
      }
    }
  }
  if (args.peer) runPeer(args, measured);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
