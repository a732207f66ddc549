/**
 * FT vs FT + LoRA on the wasm backend: the cost of one training step, and what unlearning
 * with and without LoRA gives on a real CIFAR-10 subset.
 *
 *   npx tsx --conditions=@unlearnjs/source bench/lora.ts [--quick] [--steps 3] [--no-steps] [--no-unlearn]
 *
 * Part 1 (steps): ResNet-18 w16 and the ViT (dim 192, depth 6, heads 3, mlp 384) at batch 64.
 * Each configuration runs in its own child process (fresh wasm heap, its own peak RSS): one
 * epoch of core's `train()` over `1 + steps` batches of synthetic images (the first step is
 * the warm-up), timed per step through the progress reporter. Configurations: FT (every
 * weight trains), FT + LoRA factored at rank 8 and 64 (default targets; LoRA dropout 0.1),
 * and FT + LoRA in weight space at rank 8 (the earlier formulation, for comparison).
 *
 * Part 2 (unlearning): a ResNet-18 (width 8) trained from scratch on the first CIFAR-10 train
 * images, then forgetting class 0 with `runUnlearner(container, 'ft', ...)` (2 epochs, lr
 * 0.01) with and without `adapter: { name: 'lora', options: { rank: 8 } }`, both from the same
 * trained weights; UA/RA/TA from the `accuracy` evaluator.
 *
 * Prints one JSON line per result on stdout (progress on stderr), each with the 1-minute load
 * average of the machine.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import {
  type DataSplits,
  type Model,
  Rng,
  createContainer,
  createMemoryLogger,
  createModel,
  initBackend,
  loadCifar10,
  makeSplits,
  registerCoreModels,
  runEvaluator,
  runServices,
  runUnlearner,
  train,
} from '@unlearnjs/core';
import { registerEvalMia } from '@unlearnjs/eval-mia';
import { attachLora, registerLora } from '@unlearnjs/lora';
import { registerFt } from '@unlearnjs/unlearn-ft';
import { median, stepClock, timeTrainingSteps } from './measure-utils.js';

const SELF = fileURLToPath(import.meta.url);

const MODELS = {
  'resnet18-w16': { arch: 'resnet18', options: { width: 16 } },
  'vit-192x6': { arch: 'vit', options: { dim: 192, depth: 6, heads: 3, mlpDim: 384 } },
} as const;
type BenchModel = keyof typeof MODELS;

/** One step measurement, run in a child. */
interface StepRequest {
  model: BenchModel;
  /** `ft`, or LoRA with its rank and mode. */
  lora?: { rank: number; mode: 'factored' | 'weight' };
  batch: number;
  steps: number;
}

const loadavg = (): number => Number(os.loadavg()[0].toFixed(2));
const emit = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ ...line, loadavg: loadavg() })}\n`);
const note = (msg: string): void => void process.stderr.write(`[bench:lora] ${msg}\n`);

/** Child: time `steps` training steps of one configuration after one warm-up step. */
async function measureSteps(req: StepRequest): Promise<void> {
  const logger = createMemoryLogger();
  const info = await initBackend('wasm', { logger, extensions: [wasmTrainingBackend] });
  const { progress, wall: stamps, cpu } = stepClock();
  const container = createContainer({ seed: 1, use: [registerCoreModels], logger, progress });
  const spec = MODELS[req.model];
  const model = createModel(container, spec.arch, spec.options as never);
  const total = model.numParams();
  const lora = req.lora ? attachLora(model, { rank: req.lora.rank, mode: req.lora.mode }, new Rng(2)) : undefined;
  let trainable = 0;
  for (const v of model.trainableVariables().values()) trainable += v.size;
  const rng = new Rng(7);
  const { seconds, cpuSeconds } = await timeTrainingSteps(
    model,
    container,
    { wall: stamps, cpu },
    {
      batch: req.batch,
      steps: req.steps,
      warmup: 1,
      rng,
      label: 'bench-lora',
    },
  );
  const ranks = lora ? [...new Set(lora.targets.map((t) => t.rank))].sort((a, b) => a - b) : undefined;
  const modes = lora ? [...new Set(lora.targets.map((t) => t.mode))] : undefined;
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  process.stdout.write(
    `STEP_RESULT ${JSON.stringify({
      seconds,
      cpuSeconds,
      total,
      trainable,
      targets: lora?.targets.length,
      ranks,
      modes,
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      wasmHeapMB: backend.wasm?.HEAPU8 ? Math.round(backend.wasm.HEAPU8.byteLength / 2 ** 20) : undefined,
      backend: info.detail,
    })}\n`,
  );
  model.dispose();
}

function runChild(req: StepRequest, timeoutS: number): Promise<Record<string, unknown> | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, SELF, '--child', JSON.stringify(req)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ok = out.match(/^STEP_RESULT (.*)$/m);
      if (ok) return resolve(JSON.parse(ok[1]));
      const tail = err.trim().split('\n').slice(-3).join(' | ').slice(0, 400);
      resolve({ error: `${signal === 'SIGKILL' ? `timed out after ${timeoutS} s` : `exited with ${code ?? signal}`}: ${tail}` });
    });
  });
}

function label(req: StepRequest): string {
  return req.lora ? `FT + LoRA r=${req.lora.rank} (${req.lora.mode})` : 'FT';
}

async function stepBench(steps: number, quick: boolean): Promise<void> {
  const batch = 64;
  const configs: StepRequest[] = [];
  for (const model of Object.keys(MODELS) as BenchModel[]) {
    configs.push({ model, batch, steps });
    configs.push({ model, batch, steps, lora: { rank: 8, mode: 'factored' } });
    if (!quick) {
      configs.push({ model, batch, steps, lora: { rank: 64, mode: 'factored' } });
      configs.push({ model, batch, steps, lora: { rank: 8, mode: 'weight' } });
    }
  }
  for (const req of configs) {
    note(`${req.model} ${label(req)} ...`);
    const r = await runChild(req, 300);
    if ('error' in r) {
      emit({ part: 'steps', model: req.model, config: label(req), status: 'error', error: r.error });
      continue;
    }
    const seconds = r.seconds as number[];
    const cpuSeconds = r.cpuSeconds as number[];
    emit({
      part: 'steps',
      model: req.model,
      config: label(req),
      batch,
      stepMedianS: Number(median(seconds).toFixed(3)),
      stepCpuMedianS: Number(median(cpuSeconds).toFixed(3)),
      secondsPerStep: seconds.map((s) => Number(s.toFixed(3))),
      trainable: r.trainable,
      total: r.total,
      targets: r.targets,
      ranks: r.ranks,
      modes: r.modes,
      peakRssMB: r.peakRssMB,
      wasmHeapMB: r.wasmHeapMB,
    });
  }
}

async function accuracy(container: ReturnType<typeof createContainer>, model: Model, data: DataSplits) {
  const r = await runEvaluator(container, 'accuracy', { model, data });
  const m = r.metrics as Record<string, number>;
  return { UA: Number(m.UA.toFixed(1)), RA: Number(m.RA.toFixed(1)), TA: Number(m.TA.toFixed(1)) };
}

async function unlearnBench(quick: boolean): Promise<void> {
  const logger = createMemoryLogger();
  await initBackend('wasm', { logger, extensions: [wasmTrainingBackend] });
  const trainLimit = quick ? 600 : 1500;
  const [trainSet, testSet] = [
    await loadCifar10({ split: 'train', limit: trainLimit, quiet: true }),
    await loadCifar10({ split: 'test', limit: quick ? 300 : 1000, quiet: true }),
  ];
  const data = makeSplits(trainSet, testSet, { seed: 1, validationSize: 100, classToForget: 0 });
  const width = 8;
  const pretrainEpochs = quick ? 2 : 5;
  const container = createContainer({ seed: 3, use: [registerCoreModels, registerFt, registerLora, registerEvalMia], logger });
  const model = createModel(container, 'resnet18', { width });
  note(`pretraining ResNet-18 w${width} on ${data.train.indices.length} CIFAR-10 images for ${pretrainEpochs} epochs ...`);
  const t0 = performance.now();
  await train(model, {
    data: data.train,
    epochs: pretrainEpochs,
    batchSize: 64,
    lr: 0.05,
    schedule: { type: 'cosine', minLr: 0 },
    augment: false,
    evalEvery: 0,
    services: runServices(container, 'bench-lora-pretrain'),
  });
  const pretrainS = (performance.now() - t0) / 1000;
  const trained = model.snapshot();
  const before = await accuracy(container, model, data);
  emit({
    part: 'unlearn',
    config: 'original (before unlearning)',
    model: `resnet18-w${width}`,
    train: data.train.indices.length,
    forget: data.forget.indices.length,
    retain: data.retain.indices.length,
    test: data.test.indices.length,
    pretrainEpochs,
    pretrainS: Number(pretrainS.toFixed(1)),
    ...before,
  });
  for (const adapter of [undefined, { name: 'lora', options: { rank: 8 } }] as const) {
    model.load(trained);
    note(`ft ${adapter ? 'with LoRA r=8' : 'without LoRA'} ...`);
    const report = await runUnlearner(container, 'ft', {
      model,
      data,
      options: { epochs: 2, lr: 0.01 },
      ...(adapter ? { adapter } : {}),
    });
    const acc = await accuracy(container, model, data);
    let trainable = 0;
    for (const v of model.trainableVariables().values()) trainable += v.size;
    emit({
      part: 'unlearn',
      config: adapter ? 'FT + LoRA r=8 (auto → factored)' : 'FT',
      model: `resnet18-w${width}`,
      epochs: 2,
      lr: 0.01,
      seconds: Number(report.seconds.toFixed(1)),
      imagesPerSecond: Number(((report.extra?.imagesPerSecond as number) ?? 0).toFixed(1)),
      trainable: (report.extra?.adapterTrainableParams as number | undefined) ?? trainable,
      ...acc,
    });
  }
  for (const t of trained.values()) t.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    await measureSteps(JSON.parse(argv[1]) as StepRequest);
    return;
  }
  const quick = argv.includes('--quick');
  const i = argv.indexOf('--steps');
  const steps = i >= 0 ? Number(argv[i + 1]) : quick ? 2 : 3;
  const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? os.cpus()[0]?.model;
  note(
    `cpu: ${cpuModel}, ${os.cpus().length} logical cores; loadavg ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const t0 = performance.now();
  if (!argv.includes('--no-steps')) await stepBench(steps, quick);
  if (!argv.includes('--no-unlearn')) await unlearnBench(quick);
  emit({ part: 'total', seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) });
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
