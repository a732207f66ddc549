import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  type DataSplits,
  type DependencyContainer,
  type Logger,
  type Model,
  type ProgressReporter,
  createBarProgress,
  createConsoleLogger,
  createContainer,
  createModel,
  fileExists,
  initBackend,
  loadCifar10,
  loadModel,
  makeSplits,
  runEvaluator,
  runPruner,
  runServices,
  runUnlearner,
  saveModel,
  silentProgress,
  train,
  writeFileAtomic,
  type BackendInfo,
} from '@unlearnjs/core';
import { type ResultRow, type Results, writeReport } from '@unlearnjs/eval-mia';
import { FIRST_PARTY_PLUGINS, loadPluginPackages } from '../plugins.js';
import type { MethodSpec, PipelineConfig } from './pipeline-config.js';

/** What {@link runPipeline} returns. */
export interface PipelineResult {
  results: Results;
  backend: BackendInfo;
  /** Files of the written report. */
  reportDir: string;
  seconds: number;
}

/** Options of {@link runPipeline} that are not part of the config. */
export interface RunPipelineOptions {
  /** Where log lines go. @defaultValue process.stderr */
  stream?: { write(s: string): unknown };
  logger?: Logger;
  progress?: ProgressReporter;
  signal?: AbortSignal;
}

interface Variant {
  name: 'dense' | 'sparse';
  checkpoint: string;
  sparsity: number;
}

function rowKey(variant: string, m: MethodSpec): string {
  return `${variant}-${m.method}${m.lora ? '-lora' : ''}`;
}

/**
 * Run the whole pipeline: train a dense model, prune it, unlearn with every method on the dense
 * and the sparse model (with and without LoRA where asked), evaluate UA/RA/TA/MIA-efficacy/RTE,
 * and write the results table, charts and HTML report.
 *
 * @remarks Every stage checkpoints into `config.outDir`, atomically: the dense training per
 * epoch, each pruning round, each unlearning row. A re-run with the same config resumes where
 * the last one stopped instead of recomputing.
 *
 * @param config - the pipeline configuration (see `presetConfig`)
 * @param options - logger, progress reporter, abort signal
 * @returns the results and where the report is
 */
export async function runPipeline(config: PipelineConfig, options: RunPipelineOptions = {}): Promise<PipelineResult> {
  const t0 = performance.now();
  const logger = options.logger ?? createConsoleLogger({ quiet: config.quiet, stream: options.stream });
  const progress = options.progress ?? (config.quiet ? silentProgress : createBarProgress());
  const out = path.resolve(config.outDir);
  await fs.mkdir(out, { recursive: true });
  await writeFileAtomic(path.join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  logger.info(`unlearnjs pipeline "${config.preset}": ${config.arch} ${JSON.stringify(config.model)} → ${out}`);

  // The backend is always reported, even with --quiet.
  const backend = await initBackend(config.backend, { logger: options.logger ?? createConsoleLogger({ stream: options.stream }) });
  const extra = await loadPluginPackages(config.plugins ?? []);
  const container = createContainer({
    seed: config.seed,
    use: [...FIRST_PARTY_PLUGINS, ...extra],
    logger,
    progress,
    signal: options.signal,
  });

  // Data
  const dataOpts = { dir: config.data.dir, download: config.data.download, quiet: config.quiet };
  const trainSet = await loadCifar10({ ...dataOpts, split: 'train', limit: config.data.trainLimit });
  const testSet = await loadCifar10({ ...dataOpts, split: 'test', limit: config.data.testLimit });
  const splits = makeSplits(trainSet, testSet, {
    seed: config.seed,
    validationSize: config.data.validationSize,
    classToForget: config.data.classToForget,
    numToForget: config.data.numToForget,
  });
  logger.info(
    `data: train ${splits.train.indices.length}, validation ${splits.validation.indices.length}, forget ${splits.forget.indices.length} (${splits.classToForget >= 0 ? `class ${splits.classToForget}` : 'random'}), retain ${splits.retain.indices.length}, test ${splits.test.indices.length}`,
  );

  // Stage 1: dense training (resumes from its per-epoch checkpoint).
  const denseCkpt = path.join(out, 'models', 'dense.ckpt');
  const model = createModel(container, config.arch, config.model);
  try {
    if (await fileExists(denseCkpt)) {
      await loadModel(denseCkpt, model);
      logger.info(`train: loaded ${denseCkpt}`);
    } else {
      const report = await train(model, {
        ...config.train,
        schedule: config.train.schedule as never,
        data: splits.train,
        evalSet: splits.test,
        evalEvery: config.train.epochs,
        checkpoint: path.join(out, 'models', 'dense.train.ckpt'),
        label: 'train dense',
        services: runServices(container, 'train:dense'),
      });
      await saveModel(denseCkpt, model, { stage: 'dense', testAccuracy: report.accuracy });
      logger.info(`train: test accuracy ${report.accuracy?.toFixed(2)}% at ${report.imagesPerSecond.toFixed(1)} img/s`);
    }

    // Stage 2: pruning.
    const variants: Variant[] = [{ name: 'dense', checkpoint: denseCkpt, sparsity: 0 }];
    if (config.prune) {
      const sparseCkpt = path.join(out, 'models', 'sparse.ckpt');
      let sparsity: number;
      if (await fileExists(sparseCkpt)) {
        const meta = await loadModel(sparseCkpt, model);
        sparsity = Number(meta.sparsity);
        logger.info(`prune: loaded ${sparseCkpt} (sparsity ${(100 * sparsity).toFixed(1)}%)`);
      } else {
        const report = await runPruner(container, config.prune.pruner, {
          model,
          data: splits,
          options: config.prune.options as never,
          checkpointDir: path.join(out, 'prune'),
        });
        sparsity = report.sparsity.global;
        await saveModel(sparseCkpt, model, { stage: 'sparse', sparsity, pruner: config.prune.pruner });
        logger.info(`prune: ${config.prune.pruner} → global sparsity ${(100 * sparsity).toFixed(2)}%`);
      }
      variants.push({ name: 'sparse', checkpoint: sparseCkpt, sparsity });
    }

    // Stage 3 + 4: unlearning and evaluation, one row at a time (each row is a file: resume).
    const rows: ResultRow[] = [];
    for (const variant of variants) {
      const original = await evaluateRow(container, config, model, splits, variant, { method: 'original' }, out, logger);
      rows.push(original);
      for (const m of config.methods) {
        if (m.variants && !m.variants.includes(variant.name)) continue;
        rows.push(await evaluateRow(container, config, model, splits, variant, m, out, logger));
      }
    }

    // Stage 5: report.
    const results: Results = {
      schemaVersion: 1,
      createdAt: new Date().toISOString(),
      model: { arch: config.arch, config: model.config as Record<string, unknown>, sparsity: variants[1]?.sparsity ?? 0 },
      forget: { classToForget: splits.classToForget, size: splits.forget.indices.length, seed: config.seed },
      retain: {
        size: splits.retain.indices.length,
        evaluated: Math.min(splits.retain.indices.length, config.evaluation.maxRetain ?? Number.POSITIVE_INFINITY),
      },
      rows,
    } as Results;
    const reportDir = path.join(out, 'report');
    await writeReport(results, reportDir);
    const seconds = (performance.now() - t0) / 1000;
    logger.info(`report: ${path.join(reportDir, 'report.html')} (pipeline ${(seconds / 60).toFixed(1)} min)`);
    return { results, backend, reportDir, seconds };
  } finally {
    model.dispose();
  }
}

async function evaluateRow(
  container: DependencyContainer,
  config: PipelineConfig,
  model: Model,
  splits: DataSplits,
  variant: Variant,
  m: MethodSpec,
  out: string,
  logger: Logger,
): Promise<ResultRow> {
  const key = rowKey(variant.name, m);
  const rowFile = path.join(out, 'rows', `${key}.json`);
  if (await fileExists(rowFile)) {
    logger.info(`${key}: done earlier (${rowFile})`);
    return JSON.parse(await fs.readFile(rowFile, 'utf8')) as ResultRow;
  }
  await loadModel(variant.checkpoint, model);
  let seconds = 0;
  let extra: Record<string, unknown> = {};
  if (m.method !== 'original') {
    logger.info(`${key}: unlearning with ${m.method}${m.lora ? ' + LoRA' : ''} on the ${variant.name} model`);
    const report = await runUnlearner(container, m.method, {
      model,
      data: { forget: splits.forget, retain: splits.retain, validation: splits.validation, classToForget: splits.classToForget },
      options: m.options as never,
      adapter: m.lora ? { name: 'lora', options: config.lora } : undefined,
    });
    seconds = report.seconds;
    extra = report.extra;
  }
  const data = {
    forget: splits.forget,
    retain: splits.retain,
    test: splits.test,
    testRetainClasses: splits.testRetainClasses,
    classToForget: splits.classToForget,
  };
  const acc = await runEvaluator(container, 'accuracy', {
    model,
    data,
    options: { maxRetain: config.evaluation.maxRetain, batchSize: config.evaluation.batchSize ?? 256 } as never,
  });
  const metrics: Record<string, number> = {
    UA: acc.metrics.UA,
    RA: acc.metrics.RA,
    TA: acc.metrics.TA,
    'MIA-efficacy': 0,
    RTE: seconds / 60,
  };
  if (config.evaluation.mia) {
    const mia = await runEvaluator(container, 'svc-mia', { model, data, options: { features: ['confidence'], privacy: false } as never });
    metrics['MIA-efficacy'] = mia.metrics['MIA-efficacy'];
  }
  const row: ResultRow = {
    method: m.method,
    sparsity: variant.name === 'dense' ? 'dense' : variant.sparsity,
    ...(m.lora ? { lora: true } : {}),
    metrics: metrics as ResultRow['metrics'],
    seconds,
    options: { ...(m.options ?? {}), ...(Object.keys(extra).length ? { report: JSON.parse(JSON.stringify(extra)) } : {}) },
  };
  logger.info(
    `${key}: UA ${metrics.UA.toFixed(2)} | MIA ${metrics['MIA-efficacy'].toFixed(2)} | RA ${metrics.RA.toFixed(2)} | TA ${metrics.TA.toFixed(2)} | RTE ${metrics.RTE.toFixed(2)} min`,
  );
  await writeFileAtomic(rowFile, `${JSON.stringify(row, null, 2)}\n`);
  return row;
}
