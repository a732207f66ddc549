/**
 * Per-kernel profile of training steps on a tfjs backend (default wasm).
 *
 *   tsx --conditions=@unlearnjs/source bench/profile.ts --model resnet18-w16 --batch 64 [--steps 2] [--backend wasm] [--json]
 *       [--mode train|infer]   (infer: eval-mode forward passes, as the evaluators run them)
 *       [--without Identity,Sum,Mean] [--by-shape] [--top 15]   (A/B: leave these @unlearnjs/backend-wasm kernels out)
 *       [--sparsity 0.95] [--dense-kernels]   (prune the model first: global magnitude, as OMP;
 *        --dense-kernels: with @unlearnjs/backend-wasm's sparse kernels off)
 *       [--lora 8]   (FT + LoRA of that rank, default targets, attached after pruning)
 *
 * Every kernel registered for the backend is wrapped with a timer (the wasm and cpu backends
 * run kernels synchronously, so wall time around a kernel function is its time; kernels that
 * call other kernels' functions directly, like the training kernels of @unlearnjs/backend-wasm,
 * are timed as one). Steps are core's own `train()` steps; the first is a warm-up and is not
 * counted. Prints a table: kernel, calls per step, ms per step, share of the step, GFLOP/s for
 * kernels that do arithmetic (2 × multiply-adds from the shapes).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { setSparseConvMaxDensity, wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import {
  type BackendRequest,
  Rng,
  createContainer,
  createImageSet,
  createMemoryLogger,
  createModel,
  fullSubset,
  initBackend,
  registerCoreModels,
  runServices,
  train,
} from '@unlearnjs/core';
import { attachLora } from '@unlearnjs/lora';
import { applyGlobalMagnitudePruning } from '@unlearnjs/pruning-imp';
import { type BenchModel, MODEL_SPECS } from './configs.js';
import { withoutKernels } from './without-kernels.js';

const argv = process.argv.slice(2);
const get = (n: string, d: string): string => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : d;
};
const modelId = get('model', 'resnet18-w16') as BenchModel;
const batch = Number(get('batch', '64'));
const steps = Number(get('steps', '2'));
const backendName = get('backend', 'wasm') as BackendRequest;
const mode = get('mode', 'train');

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Multiply-adds of the arithmetic kernels, from their inputs and output. */
function macs(name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>, out: TensorInfo | TensorInfo[]): number {
  const o = Array.isArray(out) ? out[0] : out;
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D': {
      const f = inputs.filter.shape;
      return size(o.shape) * f[0] * f[1] * f[2];
    }
    case 'Conv2DBackpropInput': {
      const f = inputs.filter.shape;
      return size(inputs.dy.shape) * f[0] * f[1] * f[2];
    }
    case 'Conv2DBackpropFilter': {
      const f = attrs.filterShape as number[];
      return size(inputs.dy.shape) * f[0] * f[1] * f[2];
    }
    case 'BatchMatMul':
    case '_FusedMatMul': {
      const a = inputs.a.shape;
      const k = attrs.transposeA ? a[a.length - 2] : a[a.length - 1];
      return size(o.shape) * k;
    }
    default:
      return 0;
  }
}

const byShape = argv.includes('--by-shape');

/** Input shapes (and strides or reduction axes) of one call, for `--by-shape`. */
function shapeKey(inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): string {
  const parts = Object.entries(inputs).map(([k, t]) => `${k}[${t.shape.join(',')}]`);
  for (const a of ['strides', 'axis', 'transposeA', 'transposeB', 'perm'])
    if (attrs?.[a] !== undefined) parts.push(`${a}=${JSON.stringify(attrs[a])}`);
  return parts.join(' ');
}

interface Stat {
  calls: number;
  ms: number;
  macs: number;
}

async function main(): Promise<void> {
  const logger = createMemoryLogger();
  const threads = get('wasm-threads', '');
  await initBackend(backendName, { logger, extensions: [wasmTrainingBackend], ...(threads ? { threads: Number(threads) } : {}) });
  await withoutKernels(get('without', ''));
  const stats = new Map<string, Stat>();
  let on = false;
  const wrapped: KernelConfig[] = [];
  for (const cfg of tf.getKernelsForBackend(backendName)) {
    const inner = cfg.kernelFunc;
    const timed: KernelConfig = {
      ...cfg,
      kernelFunc: (args) => {
        if (!on) return inner(args);
        const t0 = performance.now();
        const out = inner(args);
        const ms = performance.now() - t0;
        const key = byShape
          ? `${cfg.kernelName} ${shapeKey(args.inputs as Record<string, TensorInfo>, args.attrs as Record<string, unknown>)}`
          : cfg.kernelName;
        let s = stats.get(key);
        if (!s) stats.set(key, (s = { calls: 0, ms: 0, macs: 0 }));
        s.calls++;
        s.ms += ms;
        s.macs += macs(
          cfg.kernelName,
          args.inputs as Record<string, TensorInfo>,
          (args.attrs ?? {}) as Record<string, unknown>,
          out as TensorInfo,
        );
        return out;
      },
    };
    wrapped.push(timed);
  }
  for (const cfg of wrapped) {
    tf.unregisterKernel(cfg.kernelName, backendName);
    tf.registerKernel(cfg);
  }

  const stamps: number[] = [];
  const progress = {
    start: () => {
      stamps.push(performance.now());
      return {
        tick: () => {
          stamps.push(performance.now());
          on = true; // after the warm-up step
        },
        end: () => {},
      };
    },
  };
  const container = createContainer({ seed: 1, use: [registerCoreModels], logger, progress });
  const spec = MODEL_SPECS[modelId];
  const model = createModel(container, spec.arch, spec.options as never);
  const sparsity = Number(get('sparsity', '0'));
  if (sparsity > 0) applyGlobalMagnitudePruning(model, { rate: sparsity });
  if (argv.includes('--dense-kernels')) setSparseConvMaxDensity(0);
  const loraRank = Number(get('lora', '0'));
  if (loraRank > 0) attachLora(model, { rank: loraRank }, new Rng(2));
  const rng = new Rng(7);
  const n = batch * (steps + 1);
  const images = new Uint8Array(n * 3072);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(10);
  if (mode === 'infer') {
    // Eval-mode forward passes with one readback each, as predictProbabilities runs them.
    const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    for (let s = 0; s <= steps; s++) {
      stamps.push(performance.now());
      const out = tf.tidy(() => tf.softmax(model.forward(x, { training: false })));
      out.dataSync();
      out.dispose();
      on = true; // after the warm-up pass
    }
    stamps.push(performance.now());
    x.dispose();
  } else
    await train(model, {
      data: fullSubset(createImageSet({ images, labels })),
      epochs: 1,
      batchSize: batch,
      lr: 0.01,
      augment: false,
      shuffle: false,
      evalEvery: 0,
      services: runServices(container, 'profile'),
    });
  model.dispose();
  const stepMs = (stamps[stamps.length - 1] - stamps[1]) / steps;
  const rows = [...stats.entries()]
    .map(([kernel, s]) => ({
      kernel,
      callsPerStep: s.calls / steps,
      msPerStep: s.ms / steps,
      share: s.ms / steps / stepMs,
      gflops: s.macs > 0 ? (2 * s.macs) / (s.ms * 1e6) : undefined,
    }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  const kernelMs = rows.reduce((a, r) => a + r.msPerStep, 0);
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ model: modelId, backend: backendName, batch, steps, stepMs, kernelMs, rows })}\n`);
    return;
  }
  process.stdout.write(
    `${modelId} ${backendName} batch ${batch}: ${stepMs.toFixed(0)} ms/step (${((batch * 1000) / stepMs).toFixed(1)} img/s), kernels ${kernelMs.toFixed(0)} ms, outside kernels ${(stepMs - kernelMs).toFixed(0)} ms\n`,
  );
  process.stdout.write('| kernel | calls/step | ms/step | share | GFLOP/s |\n|---|---|---|---|---|\n');
  for (const r of rows.slice(0, Number(get('top', '15')))) {
    process.stdout.write(
      `| ${r.kernel} | ${r.callsPerStep} | ${r.msPerStep.toFixed(1)} | ${(100 * r.share).toFixed(1)}% | ${r.gflops !== undefined ? r.gflops.toFixed(1) : ''} |\n`,
    );
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
