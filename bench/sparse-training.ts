/**
 * Training a 95%-sparse ResNet-18 against the dense one: what the sparse kernels of
 * @unlearnjs/backend-wasm save per SGD step (issue 17, item 2).
 *
 *   pnpm bench:sparse [--model resnet18-w16] [--sparsity 0.95] [--steps 3] [--rounds 3] [--batch 64] [--wasm-threads 2] [--lora]
 *
 * Times SGD steps of core's `train()` (as FT runs them) on synthetic images, in `rounds` rounds that
 * alternate the configurations (each round: one warm-up step, then `steps` timed steps each), so
 * that the machine's load falls on all of them alike:
 * - `dense`: the model without masks;
 * - `sparse`: pruned by global magnitude (OMP) to `sparsity`, the default kernels: pruned convs
 *   run on the sparse plane kernels and their filter gradient is computed at the mask's ones only;
 * - `sparse, dense kernels`: the same pruned model with the sparse kernels turned off
 *   (`setSparseConvMaxDensity(0)`): every conv runs dense and its filter gradient is masked after.
 * With `--lora`, also `dense + LoRA` and `sparse + LoRA`: FT + LoRA (rank 8, default targets; the
 * pruned model's targets are masked, so in weight space, whose gradient is then the sampled one
 * too), for the ratio of LoRA's images/s to FT's on each model.
 *
 * The two sparse configurations start from the same weights and see the same images, so their
 * trained weights must agree: each line has a checksum (Σ|w|, and the count of masked weights
 * that are not exactly 0, which must be 0). Prints the masks' densities, one JSON line per
 * configuration (median step over all rounds), then the ratios of images/s, with the load.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { setSparseConvMaxDensity, wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import { type Model, Rng, createContainer, createMemoryLogger, createModel, initBackend, registerCoreModels } from '@unlearnjs/core';
import { attachLora } from '@unlearnjs/lora';
import { applyGlobalMagnitudePruning } from '@unlearnjs/pruning-imp';
import { type BenchModel, MODEL_SPECS } from './configs.js';
import { median, stepClock, timeTrainingSteps } from './measure-utils.js';

interface Options {
  model: BenchModel;
  sparsity: number;
  lora: boolean;
  batch: number;
  steps: number;
  rounds: number;
  threads: number;
}

type Config = 'dense' | 'sparse' | 'sparse, dense kernels' | 'dense + LoRA' | 'sparse + LoRA';

const loadavg = (): number => Number(os.loadavg()[0].toFixed(2));
const note = (msg: string): void => void process.stderr.write(`[bench:sparse] ${msg}\n`);

/** Σ|w| over every parameter, and how many masked weights are not exactly 0. */
function checksum(model: Model): { absSum: number; maskedNonzero: number } {
  let absSum = 0;
  let maskedNonzero = 0;
  for (const [name, v] of [...model.params, ...model.extraParams]) {
    const w = v.dataSync();
    const m = model.masks.get(name)?.dataSync();
    for (let i = 0; i < w.length; i++) {
      absSum += Math.abs(w[i]);
      if (m && m[i] === 0 && w[i] !== 0) maskedNonzero++;
    }
  }
  return { absSum, maskedNonzero };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const get = (n: string, d: string): string => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
  const o: Options = {
    model: get('model', 'resnet18-w16') as BenchModel,
    sparsity: Number(get('sparsity', '0.95')),
    lora: argv.includes('--lora'),
    batch: Number(get('batch', '64')),
    steps: Number(get('steps', '3')),
    rounds: Number(get('rounds', '3')),
    threads: Number(get('wasm-threads', '1')),
  };
  const logger = createMemoryLogger();
  const info = await initBackend('wasm', { logger, extensions: [wasmTrainingBackend], threads: o.threads });
  note(info.detail);
  const clock = stepClock();
  const container = createContainer({ seed: 1, use: [registerCoreModels], logger, progress: clock.progress });
  const spec = MODEL_SPECS[o.model];
  // The sparse configurations train copies of one pruned model on the same images; the LoRA ones
  // copies of the dense and the pruned model with adapters attached (same adapter seed).
  const models = new Map<Config, Model>();
  const dense = createModel(container, spec.arch, spec.options as never);
  const pruned = dense.clone(new Rng(0));
  const report = applyGlobalMagnitudePruning(pruned, { rate: o.sparsity });
  models.set('dense', dense);
  models.set('sparse', pruned);
  models.set('sparse, dense kernels', pruned.clone(new Rng(0)));
  if (o.lora) {
    for (const [config, from] of [
      ['dense + LoRA', dense],
      ['sparse + LoRA', pruned],
    ] as const) {
      const m = from.clone(new Rng(0));
      attachLora(m, { rank: 8 }, new Rng(2));
      models.set(config, m);
    }
  }
  const CONFIGS = [...models.keys()];
  const densities: Record<string, number> = {};
  for (const [name, m] of pruned.masks) densities[name] = Number(tf.mean(m).dataSync()[0].toFixed(4));
  console.log(JSON.stringify({ bench: 'sparse-training-masks', model: o.model, sparsity: report.global, densities }));

  // Rounds alternate the configurations, so that a change in the machine's load falls on all.
  const seconds = new Map<Config, number[]>(CONFIGS.map((c) => [c, []]));
  const cpuSeconds = new Map<Config, number[]>(CONFIGS.map((c) => [c, []]));
  for (let r = 0; r < o.rounds; r++) {
    // Each round starts with another configuration: no configuration always follows the same one.
    for (const config of CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length])) {
      note(`round ${r + 1}/${o.rounds}: ${config}`);
      setSparseConvMaxDensity(config === 'sparse, dense kernels' ? 0 : undefined);
      clock.wall.length = 0;
      clock.cpu.length = 0;
      const t = await timeTrainingSteps(models.get(config) as Model, container, clock, {
        batch: o.batch,
        steps: o.steps,
        warmup: 1,
        rng: new Rng(7 + r),
        label: 'bench-sparse',
      });
      seconds.get(config)?.push(...t.seconds);
      cpuSeconds.get(config)?.push(...t.cpuSeconds);
    }
  }
  setSparseConvMaxDensity();
  const ips = new Map<Config, number>();
  for (const config of CONFIGS) {
    const step = median(seconds.get(config) as number[]);
    ips.set(config, o.batch / step);
    console.log(
      JSON.stringify({
        bench: 'sparse-training',
        model: o.model,
        config,
        threads: o.threads,
        batch: o.batch,
        steps: (seconds.get(config) as number[]).length,
        stepMedianS: Number(step.toFixed(3)),
        stepCpuMedianS: Number(median(cpuSeconds.get(config) as number[]).toFixed(3)),
        imagesPerSecond: Number((o.batch / step).toFixed(1)),
        ...checksum(models.get(config) as Model),
        loadavg: loadavg(),
      }),
    );
  }
  const ratio = (a: Config, b: Config) =>
    ips.has(a) && ips.has(b) ? Number(((ips.get(a) as number) / (ips.get(b) as number)).toFixed(2)) : undefined;
  console.log(
    JSON.stringify({
      bench: 'sparse-training-ratios',
      model: o.model,
      threads: o.threads,
      sparseOverDense: ratio('sparse', 'dense'),
      sparseOverSparseDenseKernels: ratio('sparse', 'sparse, dense kernels'),
      ...(o.lora ? { loraOverFtDense: ratio('dense + LoRA', 'dense'), loraOverFtSparse: ratio('sparse + LoRA', 'sparse') } : {}),
      loadavg: loadavg(),
    }),
  );
  for (const m of models.values()) m.dispose();
}

await main();
