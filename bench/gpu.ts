/**
 * GPU benchmark, prepared to run unattended on a machine with a GPU, in under 5 minutes:
 *
 *   pnpm bench:gpu [--budget 280] [--runs 3] [--batch 256]
 *
 * Tries the `tensorflow` (tfjs-node-gpu) then the `webgpu` backend through core's initBackend,
 * and on each one that works measures ResNet-18 w64 and the ViT (192×6), training and inference,
 * at batch 256 (bench/run.ts, one child process per measurement). When `python3 -c 'import torch'`
 * works and CUDA is available it runs the PyTorch peer (`$SHARED_DIR/peers/torch_throughput.py
 * --device cuda`, SHARED_DIR defaulting to ../shared) and prints a `ratio: "tfjs/torch"` line per
 * measurement. Installs nothing and fetches nothing at run time.
 *
 * Prints one JSON line per measurement on stdout (bench/run.ts's format), and one line with
 * `status: "skipped"` and the reason per backend (or peer) that cannot run, e.g. on a machine
 * without a GPU, where it measures nothing and exits 0. Progress goes to stderr.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BackendName, createMemoryLogger, initBackend } from '@unlearnjs/core';
import { type BenchModel, PEER_ARGS } from './configs.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu'];
const MODELS: readonly BenchModel[] = ['resnet18-w64', 'vit-192x6'];
const MODES = ['train', 'infer'] as const;

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} takes a positive number.`);
  return v;
};
const budgetS = arg('budget', 280);
const runs = arg('runs', 3);
const batch = arg('batch', 256);
const deadline = Date.now() + budgetS * 1000;
const left = (): number => Math.floor((deadline - Date.now()) / 1000);

const emit = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...line, loadavg: Number(os.loadavg()[0].toFixed(2)) })}\n`);
};
const note = (msg: string): void => void process.stderr.write(`[bench:gpu] ${msg}\n`);

/** Whether the backend runs on a GPU here, and what was loaded (or why not). */
async function probe(backend: BackendName): Promise<{ ok: true; detail: string } | { ok: false; reason: string }> {
  try {
    const info = await initBackend(backend, { logger: createMemoryLogger() });
    // The CPU build of tfjs-node also registers 'tensorflow': not a GPU measurement.
    if (backend === 'tensorflow' && !/gpu/i.test(info.detail)) {
      return { ok: false, reason: `only ${info.detail} (the CPU build) is installed; install @tensorflow/tfjs-node-gpu for the GPU` };
    }
    return { ok: true, detail: info.detail };
  } catch (e) {
    return { ok: false, reason: `backend unavailable: ${(e as Error).message.split('. To fix')[0]}` };
  }
}

/** One measurement through bench/run.ts in a child; its JSON lines, killed at the deadline. */
function measure(backend: BackendName, model: BenchModel, mode: (typeof MODES)[number]): Promise<Array<Record<string, unknown>>> {
  const timeoutS = Math.max(10, Math.min(150, left() - 5));
  const args = [
    ...process.execArgv,
    path.join(HERE, 'run.ts'),
    ...['--models', model, '--backends', backend, '--batches', String(batch), '--modes', mode],
    ...['--runs', String(runs), '--warmup', '1', '--no-peer', '--timeout', String(timeoutS)],
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 20) * 1000);
    child.on('close', () => {
      clearTimeout(timer);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      if (lines.length === 0) lines.push({ model, backend, batch, mode, status: 'error', error: `no result within ${timeoutS} s` });
      resolve(lines);
    });
  });
}

function sharedDir(): string | undefined {
  const candidates = [process.env.SHARED_DIR, path.resolve(HERE, '../../shared'), path.resolve(HERE, '../shared')].filter(
    Boolean,
  ) as string[];
  return candidates.find((d) => existsSync(path.join(d, 'peers', 'torch_throughput.py')));
}

/** PyTorch on CUDA, per model: `{ model → { train, infer } }` img/s, or a skip line. */
async function torchPeer(): Promise<Map<BenchModel, { train: number; infer: number }>> {
  const peer = new Map<BenchModel, { train: number; infer: number }>();
  const shared = sharedDir();
  if (!shared) {
    emit({ peer: 'pytorch', status: 'skipped', reason: 'peers/torch_throughput.py not found: set SHARED_DIR to the shared folder' });
    return peer;
  }
  try {
    const { stdout } = await run('python3', ['-c', 'import torch; print(torch.cuda.is_available())'], { timeout: 60_000 });
    if (stdout.trim() !== 'True') {
      emit({ peer: 'pytorch', status: 'skipped', reason: 'torch imports but sees no CUDA device' });
      return peer;
    }
  } catch {
    emit({ peer: 'pytorch', status: 'skipped', reason: "python3 -c 'import torch' fails: PyTorch is not installed" });
    return peer;
  }
  const script = path.join(shared, 'peers', 'torch_throughput.py');
  for (const model of MODELS) {
    if (left() < 15) {
      emit({ peer: 'pytorch', model, batch, status: 'skipped', reason: `time budget of ${budgetS} s spent` });
      continue;
    }
    note(`pytorch peer ${model} batch ${batch} on cuda ...`);
    try {
      const { stdout } = await run('python3', [script, '--device', 'cuda', ...PEER_ARGS[model], '--batch', String(batch), '--steps', '5'], {
        timeout: Math.max(10, left() - 5) * 1000,
      });
      const r = JSON.parse(stdout.trim().split('\n').pop() as string) as { peer: string; train_img_per_s: number; infer_img_per_s: number };
      emit({
        peer: r.peer,
        device: 'cuda',
        model,
        batch,
        trainImagesPerSecond: r.train_img_per_s,
        inferImagesPerSecond: r.infer_img_per_s,
      });
      peer.set(model, { train: r.train_img_per_s, infer: r.infer_img_per_s });
    } catch (e) {
      emit({ peer: 'pytorch', model, batch, status: 'error', error: String((e as Error).message).split('\n')[0] });
    }
  }
  return peer;
}

async function main(): Promise<void> {
  note(`${os.cpus()[0]?.model} x${os.cpus().length}; budget ${budgetS} s; batch ${batch}`);
  const measured: Array<{ backend: BackendName; model: BenchModel; mode: string; imagesPerSecond: number }> = [];
  for (const backend of BACKENDS) {
    const p = await probe(backend);
    if (!p.ok) {
      emit({ backend, status: 'skipped', reason: p.reason });
      continue;
    }
    note(`backend ${backend}: ${p.detail}`);
    for (const model of MODELS) {
      for (const mode of MODES) {
        if (left() < 20) {
          emit({ model, backend, batch, mode, status: 'skipped', reason: `time budget of ${budgetS} s spent` });
          continue;
        }
        note(`${backend} ${model} ${mode} batch ${batch} (${left()} s left) ...`);
        for (const line of await measure(backend, model, mode)) {
          emit(line);
          if (typeof line.imagesPerSecond === 'number' && line.status === undefined) {
            measured.push({ backend, model, mode, imagesPerSecond: line.imagesPerSecond });
          }
        }
      }
    }
  }
  const peer = await torchPeer();
  for (const m of measured) {
    const torch = peer.get(m.model)?.[m.mode as 'train' | 'infer'];
    if (torch === undefined) continue;
    emit({
      ratio: 'tfjs/torch',
      model: m.model,
      backend: m.backend,
      batch,
      mode: m.mode,
      tfjs: m.imagesPerSecond,
      torch,
      value: Number((m.imagesPerSecond / torch).toFixed(4)),
    });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  },
);
