/**
 * Time to accuracy: how long the `standard` preset's dense training (ResNet-18 width 16, 30
 * epochs, the recipe in packages/cli/src/pipeline/presets.ts) takes to reach a test accuracy
 * with core's `train()` on the wasm backend, against PyTorch running the same recipe on the same
 * images with as many threads (bench/time-to-accuracy.py).
 *
 *   pnpm bench:tta [--epochs 30] [--train-limit N] [--test-limit N] [--target 88] [--wasm-threads 2]
 *                  [--seed 1] [--out runs/time-to-accuracy] [--no-peer] [--peer-only] [--timeout 86400]
 *
 * The train split is the standard preset's: `makeSplits` with its seed (the 45,000 images left
 * after the stratified 5,000-image validation set), written to `<out>/train-indices.json` and
 * handed to the peer, so both train on exactly the same images; both evaluate on the CIFAR-10
 * test set (10,000 images, or the first `--test-limit`) after every epoch. Both read the binaries
 * from CIFAR10_DIR, else ../shared/data/cifar10.
 *
 * `--epochs N` stops after N epochs of the 30-epoch schedule (the learning rates stay those of
 * the full run: epoch 0 is the warm-up either way); `--train-limit N` trains on the first N
 * images of the split. Runs that stop before the target compare the mean epoch time instead and
 * print a projection of the full recipe's time from it (labelled as such: it assumes the recipe
 * reaches the target in its 30 epochs, which only a full run shows).
 *
 * stdout: one JSON line per epoch and framework (`framework`, `epoch`, `seconds`: training
 * seconds so far, evaluations excluded; `wallSeconds`: with them; `testAccuracy` %, `loss`, `lr`,
 * `imagesPerSecond`, `loadavg`), a `final` line per framework, and a `comparison` line. Progress
 * goes to stderr.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import { presetConfig } from '@unlearnjs/cli';
import {
  createBarProgress,
  createContainer,
  createMemoryLogger,
  createModel,
  defaultCifar10Dir,
  initBackend,
  loadCifar10,
  makeSplits,
  registerCoreModels,
  runServices,
  subsetOf,
  train,
} from '@unlearnjs/core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PEER = path.join(HERE, 'time-to-accuracy.py');

interface Args {
  epochs?: number;
  trainLimit?: number;
  testLimit?: number;
  target: number;
  threads: number;
  seed: number;
  out: string;
  peer: boolean;
  peerOnly: boolean;
  timeoutS: number;
}

/** One epoch of one framework, as both print it. */
interface EpochLine {
  framework: string;
  epoch: number;
  seconds: number;
  wallSeconds: number;
  testAccuracy: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
}

/** What a run gives the comparison. */
interface RunSummary {
  framework: string;
  epochs: EpochLine[];
  trainImages: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (name: string, lo: number, hi: number): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name} takes an integer from ${lo} to ${hi}, got ${v}.`);
    return n;
  };
  const target = Number(get('target') ?? 88);
  if (!(target > 0 && target <= 100)) throw new Error(`--target takes a test accuracy in (0, 100] percent, got ${get('target')}.`);
  return {
    epochs: int('epochs', 1, 10_000),
    trainLimit: int('train-limit', 1, 50_000),
    testLimit: int('test-limit', 1, 10_000),
    target,
    threads: int('wasm-threads', 1, 8) ?? 2,
    seed: int('seed', 0, 2 ** 31 - 1) ?? 1,
    out: path.resolve(get('out') ?? 'runs/time-to-accuracy'),
    peer: !argv.includes('--no-peer'),
    peerOnly: argv.includes('--peer-only'),
    timeoutS: int('timeout', 1, 10 * 86_400) ?? 86_400,
  };
}

const loadavg = (): number => Number(os.loadavg()[0].toFixed(2));
const emit = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ ...line, loadavg: loadavg() })}\n`);
const note = (msg: string): void => void process.stderr.write(`[bench:tta] ${msg}\n`);
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** The standard preset's dense training and model, as the pipeline runs them. */
function recipe() {
  const config = presetConfig('standard', 'resnet18');
  return { train: config.train, width: Number(config.model.width), seed: config.seed };
}

/** First epoch whose test accuracy reaches `target`. */
function reached(run: RunSummary, target: number): EpochLine | undefined {
  return run.epochs.find((e) => e.testAccuracy >= target);
}

async function runTfjs(args: Args, data: Awaited<ReturnType<typeof loadData>>): Promise<RunSummary> {
  const { train: recipeTrain, width } = recipe();
  const logger = createMemoryLogger();
  const backend = await initBackend('wasm', { logger, extensions: [wasmTrainingBackend], threads: args.threads });
  for (const w of logger.lines.filter((l) => /warn/i.test(l))) note(w);
  note(`tfjs: ${backend.detail}`);
  const progress = createBarProgress({ lineIntervalSeconds: 30 });
  const container = createContainer({ seed: args.seed, use: [registerCoreModels], logger, progress, backend });
  const model = createModel(container, 'resnet18', { width });
  const epochs = Math.min(args.epochs ?? recipeTrain.epochs, recipeTrain.epochs);
  const framework = `tfjs-wasm ${backend.detail}`;
  const lines: EpochLine[] = [];
  let trainSeconds = 0;
  const t0 = performance.now();
  try {
    await train(model, {
      ...recipeTrain,
      epochs,
      // A short run trains the first epochs of the full schedule, not a compressed one.
      scheduleEpochs: recipeTrain.epochs,
      data: data.train,
      evalSet: data.test,
      evalEvery: 1,
      label: 'tta tfjs',
      services: runServices(container, 'train:dense'),
      onEpochEnd: ({ epoch, log }) => {
        trainSeconds += log.seconds;
        const line: EpochLine = {
          framework: 'tfjs-wasm',
          epoch: epoch + 1,
          seconds: round(trainSeconds),
          wallSeconds: round((performance.now() - t0) / 1000),
          testAccuracy: round(log.accuracy ?? Number.NaN),
          loss: round(log.loss, 4),
          lr: round(log.lr ?? Number.NaN, 6),
          imagesPerSecond: round(data.train.indices.length / log.seconds, 1),
        };
        lines.push(line);
        emit({ ...line });
      },
    });
  } finally {
    model.dispose();
  }
  summarise({ framework: 'tfjs-wasm', epochs: lines, trainImages: data.train.indices.length }, args, {
    detail: framework,
    threads: backend.threads,
  });
  return { framework: 'tfjs-wasm', epochs: lines, trainImages: data.train.indices.length };
}

function summarise(run: RunSummary, args: Args, extra: Record<string, unknown>): void {
  const last = run.epochs.at(-1);
  const hit = reached(run, args.target);
  emit({
    framework: run.framework,
    final: true,
    ...extra,
    epochs: run.epochs.length,
    trainImages: run.trainImages,
    seconds: last?.seconds,
    wallSeconds: last?.wallSeconds,
    testAccuracy: last?.testAccuracy,
    bestTestAccuracy: run.epochs.length ? Math.max(...run.epochs.map((e) => e.testAccuracy)) : undefined,
    target: args.target,
    reachedTarget: hit ? { epoch: hit.epoch, seconds: hit.seconds } : null,
    meanEpochSeconds: last ? round(last.seconds / run.epochs.length) : undefined,
  });
}

async function loadData(args: Args) {
  const { seed } = recipe();
  if (args.seed !== seed) note(`seed ${args.seed}: not the standard preset's split (seed ${seed})`);
  const trainSet = await loadCifar10({ split: 'train', quiet: true });
  const testSet = await loadCifar10({ split: 'test', quiet: true, ...(args.testLimit ? { limit: args.testLimit } : {}) });
  // The standard preset's split: the validation draw depends only on the seed.
  const splits = makeSplits(trainSet, testSet, { seed: args.seed, classToForget: 0 });
  const indices = args.trainLimit ? splits.train.indices.slice(0, args.trainLimit) : splits.train.indices;
  mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, 'train-indices.json');
  writeFileSync(
    file,
    `${JSON.stringify({ seed: args.seed, source: 'makeSplits(seed).train, file order of data_batch_1..5.bin', train: Array.from(indices) })}\n`,
  );
  note(`train ${indices.length} images (indices in ${file}), test ${testSet.size}`);
  return { train: subsetOf(trainSet, indices), test: splits.test, indicesFile: file };
}

/** Run the PyTorch peer, forwarding its progress (stderr) and collecting its JSON lines. */
function runPeer(args: Args, indicesFile: string): Promise<RunSummary | undefined> {
  const { train: recipeTrain, width } = recipe();
  const epochs = Math.min(args.epochs ?? recipeTrain.epochs, recipeTrain.epochs);
  const peerArgs = [
    PEER,
    '--indices',
    indicesFile,
    '--data',
    defaultCifar10Dir(),
    '--recipe',
    JSON.stringify({ ...recipeTrain, width }),
    '--epochs',
    String(epochs),
    '--threads',
    String(args.threads),
    '--seed',
    String(args.seed),
    '--target',
    String(args.target),
    ...(args.testLimit ? ['--test-limit', String(args.testLimit)] : []),
  ];
  note(`pytorch: /usr/bin/python3 ${peerArgs.map((a) => (a.startsWith('{') ? `'${a}'` : a)).join(' ')}`);
  return new Promise((resolve) => {
    // OpenBLAS's own spinning threads fight PyTorch's: one BLAS thread, PyTorch's `threads`.
    const child = spawn('/usr/bin/python3', peerArgs, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
      timeout: args.timeoutS * 1000,
    });
    const lines: EpochLine[] = [];
    let framework = 'pytorch';
    let trainImages = 0;
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const text = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        if (!text) continue;
        process.stdout.write(`${text}\n`);
        try {
          const line = JSON.parse(text) as EpochLine & { final?: boolean; peer?: string; trainImages?: number };
          if (line.final) {
            framework = line.peer ?? framework;
            trainImages = line.trainImages ?? trainImages;
          } else if (typeof line.epoch === 'number') lines.push(line);
        } catch {
          // not a JSON line: shown above, not counted
        }
      }
    });
    child.on('error', (err) => {
      emit({ framework: 'pytorch', status: 'error', error: err.message });
      resolve(undefined);
    });
    child.on('close', (code, signal) => {
      if (code !== 0) {
        emit({
          framework: 'pytorch',
          status: 'error',
          error: `peer exited with ${signal ?? code}`,
          hint: '/usr/bin/python3 needs torch (apt-get install -y python3-torch) and numpy',
        });
        resolve(lines.length ? { framework, epochs: lines, trainImages } : undefined);
        return;
      }
      resolve({ framework, epochs: lines, trainImages });
    });
  });
}

function compare(tfjs: RunSummary, torch: RunSummary, args: Args): void {
  const a = reached(tfjs, args.target);
  const b = reached(torch, args.target);
  if (a && b) {
    emit({
      comparison: 'time to accuracy',
      target: args.target,
      tfjs: { epoch: a.epoch, seconds: a.seconds },
      pytorch: { epoch: b.epoch, seconds: b.seconds },
      ratio: round(a.seconds / b.seconds, 3),
    });
    note(
      `time to ${args.target}%: tfjs ${a.seconds} s (epoch ${a.epoch}), PyTorch ${b.seconds} s (epoch ${b.epoch}): ${(a.seconds / b.seconds).toFixed(2)}×`,
    );
    return;
  }
  const { train: recipeTrain } = recipe();
  const mean = (r: RunSummary) => (r.epochs.at(-1)?.seconds ?? Number.NaN) / r.epochs.length;
  const scale = (r: RunSummary) => 45_000 / Math.max(1, r.trainImages);
  const tfjsEpoch = mean(tfjs);
  const torchEpoch = mean(torch);
  emit({
    comparison: 'seconds per epoch (the target was not reached by both runs)',
    target: args.target,
    tfjsReached: a ? { epoch: a.epoch, seconds: a.seconds } : null,
    pytorchReached: b ? { epoch: b.epoch, seconds: b.seconds } : null,
    tfjsEpochSeconds: round(tfjsEpoch),
    pytorchEpochSeconds: round(torchEpoch),
    ratio: round(tfjsEpoch / torchEpoch, 3),
    projection: {
      note: `PROJECTION, not a measurement: mean epoch seconds × ${recipeTrain.epochs} epochs × 45,000 / train images; it assumes the recipe reaches ${args.target}% only at its last epoch`,
      tfjsRecipeSeconds: Math.round(tfjsEpoch * recipeTrain.epochs * scale(tfjs)),
      pytorchRecipeSeconds: Math.round(torchEpoch * recipeTrain.epochs * scale(torch)),
    },
  });
  note(
    `per epoch: tfjs ${tfjsEpoch.toFixed(1)} s, PyTorch ${torchEpoch.toFixed(1)} s (${(tfjsEpoch / torchEpoch).toFixed(2)}×); projected full recipe (a projection): tfjs ${((tfjsEpoch * recipeTrain.epochs * scale(tfjs)) / 3600).toFixed(2)} h, PyTorch ${((torchEpoch * recipeTrain.epochs * scale(torch)) / 3600).toFixed(2)} h`,
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  note(
    `cpu: ${os.cpus()[0]?.model} x${os.cpus().length}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; recipe ${JSON.stringify(recipe().train)}, width ${recipe().width}`,
  );
  const data = await loadData(args);
  const tfjs = args.peerOnly ? undefined : await runTfjs(args, data);
  if (!args.peer) return;
  const torch = await runPeer(args, data.indicesFile);
  if (tfjs && torch && torch.epochs.length > 0) compare(tfjs, torch, args);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
