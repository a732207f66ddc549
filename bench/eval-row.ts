/**
 * Seconds of one results row's evaluation (UA, RA, TA, MIA-efficacy) on the `quick` preset's
 * sets, as the pipeline's `computeRow` runs it (`evaluateModel` with the preset's evaluation
 * options), for a checkpoint of the preset's model.
 *
 *   tsx --conditions=@unlearnjs/source bench/eval-row.ts --checkpoint runs/resnet18-quick/models/dense.ckpt
 *       [--arch resnet18] [--repeats 2] [--batch 256] [--wasm-threads N] [--uncached]
 *
 * `--uncached` runs the two evaluators without `withPredictionCache` (what `evaluateModel` did
 * before it), for a back-to-back comparison.
 *
 * Prints one JSON line per repeat: wall and CPU seconds, the images the evaluators ran through the
 * model, the metrics, the batch size and the load average.
 */
import os from 'node:os';
import { loadModel, runEvaluator } from '@unlearnjs/core';
import { evaluateModel } from '../packages/cli/src/evaluate-model.js';
import { presetConfig } from '../packages/cli/src/pipeline/presets.js';
import { preparePipeline } from '../packages/cli/src/pipeline/run-pipeline.js';

const argv = process.argv.slice(2);
const get = (n: string, d?: string): string | undefined => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : d;
};

/** What `evaluateModel` ran before the prediction cache: each evaluator predicts its own sets. */
async function uncached(ctx: Awaited<ReturnType<typeof preparePipeline>>, options: { maxRetain?: number; batchSize?: number }) {
  const { splits, model, container } = ctx;
  const data = {
    forget: splits.forget,
    retain: splits.retain,
    test: splits.test,
    testRetainClasses: splits.testRetainClasses,
    classToForget: splits.classToForget,
  };
  const batchSize = options.batchSize ?? 256;
  const acc = await runEvaluator(container, 'accuracy', { model, data, options: { maxRetain: options.maxRetain, batchSize } });
  const mia = await runEvaluator(container, 'svc-mia', { model, data, options: { features: ['confidence'], privacy: false, batchSize } });
  return { UA: acc.metrics.UA, RA: acc.metrics.RA, TA: acc.metrics.TA, 'MIA-efficacy': mia.metrics['MIA-efficacy'] };
}

async function main(): Promise<void> {
  const arch = (get('arch', 'resnet18') as 'resnet18' | 'vit') ?? 'resnet18';
  const checkpoint = get('checkpoint');
  if (!checkpoint) throw new Error('--checkpoint <file> is required (a model of the quick preset).');
  const threads = get('wasm-threads');
  const config = { ...presetConfig('quick', arch), quiet: true, ...(threads ? { wasmThreads: Number(threads) } : {}) };
  // Images the model predicts (progress ticks of the evaluators' predict tasks).
  let predicted = 0;
  const progress = {
    start: (label: string, _total: number, unit?: string) => ({
      tick: (k = 1) => {
        if (unit === 'img' && /^(accuracy|svc-mia)/.test(label)) predicted += k;
      },
      end: () => {},
    }),
  };
  const ctx = await preparePipeline(config, { progress: progress as never });
  await loadModel(checkpoint, ctx.model);
  const batch = get('batch');
  for (let r = 0; r < Number(get('repeats', '2')); r++) {
    predicted = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const options = { maxRetain: config.evaluation.maxRetain, batchSize: batch ? Number(batch) : config.evaluation.batchSize };
    const metrics = argv.includes('--uncached')
      ? await uncached(ctx, options)
      : (await evaluateModel(ctx.container, ctx.model, ctx.splits, options)).metrics;
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpuSeconds = (c.user + c.system) / 1e6;
    process.stdout.write(
      `${JSON.stringify({ arch, repeat: r, seconds, cpuSeconds, predicted, batch: batch ?? 'default', metrics, loadavg: os.loadavg()[0] })}\n`,
    );
  }
  ctx.model.dispose();
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
