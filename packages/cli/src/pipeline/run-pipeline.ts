import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DataSplits,
  type DependencyContainer,
  type Logger,
  type Model,
  type ProgressReporter,
  UnlearnError,
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

/** One unlearn-and-evaluate row of the results table. */
interface RowJob {
  variant: Variant;
  method: MethodSpec;
}

function rowKey(variant: string, m: MethodSpec): string {
  return `${variant}-${m.method}${m.lora ? '-lora' : ''}`;
}

const rowFile = (out: string, job: RowJob) => path.join(out, 'rows', `${rowKey(job.variant.name, job.method)}.json`);

/** wasm and cpu run one core per process, so rows go to one process per core (at most 2); GPU backends use one. */
function autoJobs(backend: BackendInfo): number {
  return backend.name === 'wasm' || backend.name === 'cpu' ? Math.min(2, availableParallelism()) : 1;
}

interface PipelineContext {
  config: PipelineConfig;
  out: string;
  logger: Logger;
  container: DependencyContainer;
  splits: DataSplits;
  model: Model;
  backend: BackendInfo;
}

async function preparePipeline(config: PipelineConfig, options: RunPipelineOptions): Promise<PipelineContext> {
  const logger = options.logger ?? createConsoleLogger({ quiet: config.quiet, stream: options.stream });
  const progress = options.progress ?? (config.quiet ? silentProgress : createBarProgress());
  const out = path.resolve(config.outDir);
  // The backend is always reported, even with --quiet.
  const backend = await initBackend(config.backend, {
    logger: options.logger ?? createConsoleLogger({ stream: options.stream }),
    wasmThreads: config.wasmThreads,
  });
  const extra = await loadPluginPackages(config.plugins ?? []);
  const container = createContainer({
    seed: config.seed,
    use: [...FIRST_PARTY_PLUGINS, ...extra],
    logger,
    progress,
    signal: options.signal,
  });
  const dataOpts = { dir: config.data.dir, download: config.data.download, quiet: config.quiet };
  const trainSet = await loadCifar10({ ...dataOpts, split: 'train', limit: config.data.trainLimit });
  const testSet = await loadCifar10({ ...dataOpts, split: 'test', limit: config.data.testLimit });
  const splits = makeSplits(trainSet, testSet, {
    seed: config.seed,
    validationSize: config.data.validationSize,
    classToForget: config.data.classToForget,
    numToForget: config.data.numToForget,
  });
  const model = createModel(container, config.arch, config.model);
  return { config, out, logger, container, splits, model, backend };
}

/** The rows of the table, in report order: per variant, `original` then every method. */
function rowJobs(config: PipelineConfig, variants: readonly Variant[]): RowJob[] {
  const jobs: RowJob[] = [];
  for (const variant of variants) {
    jobs.push({ variant, method: { method: 'original' } });
    for (const m of config.methods) if (!m.variants || m.variants.includes(variant.name)) jobs.push({ variant, method: m });
  }
  return jobs;
}

const variantsFile = (out: string) => path.join(out, 'models', 'variants.json');

/**
 * Run the whole pipeline: train a dense model, prune it, unlearn with every method on the dense
 * and the sparse model (with and without LoRA where asked), evaluate UA/RA/TA/MIA-efficacy/RTE,
 * and write the results table, charts and HTML report.
 *
 * @remarks Every stage checkpoints into `config.outDir`, atomically: the dense training per
 * epoch, each pruning round, each unlearning row. A re-run with the same config resumes where
 * the last one stopped instead of recomputing. With `config.jobs` > 1 the unlearning rows are
 * shared among that many processes (the wasm backend uses one core per process); every row
 * draws its randomness from its own fork of the seed, so the results do not depend on `jobs`.
 *
 * @param config - the pipeline configuration (see `presetConfig`)
 * @param options - logger, progress reporter, abort signal
 * @returns the results and where the report is
 */
export async function runPipeline(config: PipelineConfig, options: RunPipelineOptions = {}): Promise<PipelineResult> {
  const t0 = performance.now();
  await fs.mkdir(path.resolve(config.outDir), { recursive: true });
  await writeFileAtomic(path.join(path.resolve(config.outDir), 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const ctx = await preparePipeline(config, options);
  const { out, logger, container, splits, model } = ctx;
  logger.info(`unlearnjs pipeline "${config.preset}": ${config.arch} ${JSON.stringify(config.model)} → ${out}`);
  logger.info(
    `data: train ${splits.train.indices.length}, validation ${splits.validation.indices.length}, forget ${splits.forget.indices.length} (${splits.classToForget >= 0 ? `class ${splits.classToForget}` : 'random'}), retain ${splits.retain.indices.length}, test ${splits.test.indices.length}`,
  );
  try {
    // Stage 1: dense training (resumes from its per-epoch checkpoint).
    const denseCkpt = path.join(out, 'models', 'dense.ckpt');
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
    await writeFileAtomic(variantsFile(out), `${JSON.stringify(variants)}\n`);

    // Stage 3 + 4: unlearning and evaluation, one row at a time (each row is a file: resume).
    const jobs = rowJobs(config, variants);
    const wanted = config.jobs === 'auto' || config.jobs === undefined ? autoJobs(ctx.backend) : config.jobs;
    const workers = Math.max(1, Math.min(wanted, jobs.length));
    // A multi-threaded main process would compete with the single-threaded row workers for the
    // same cores: it then hands every shard, its own included, to a worker and waits.
    const handOff = workers > 1 && (ctx.backend.threads ?? 1) > 1;
    if (workers > 1) {
      logger.info(`unlearning: ${jobs.length} rows on ${workers} processes${handOff ? ' (1 wasm thread each)' : ''}`);
    }
    const children: Array<Promise<void>> = [];
    for (let w = handOff ? 0 : 1; w < workers; w++) children.push(spawnRowWorker(out, w, workers));
    const mine = handOff ? [] : jobs.filter((_, i) => i % workers === 0);
    for (const job of mine) await evaluateRow(ctx, job);
    await Promise.all(children);
    const rows: ResultRow[] = [];
    for (const job of jobs) rows.push(JSON.parse(await fs.readFile(rowFile(out, job), 'utf8')) as ResultRow);

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
    return { results, backend: ctx.backend, reportDir, seconds };
  } finally {
    model.dispose();
  }
}

/**
 * Compute one shard of the rows of a pipeline whose models are already trained and pruned (the
 * worker side of `jobs` > 1). Reads `config.json` and the variants from `outDir`.
 *
 * @param outDir - the pipeline's output folder
 * @param shard - this worker's index, from 0
 * @param shards - number of workers
 * @param options - logger/stream
 */
export async function runPipelineShard(outDir: string, shard: number, shards: number, options: RunPipelineOptions = {}): Promise<void> {
  const out = path.resolve(outDir);
  const config = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8')) as PipelineConfig;
  const variants = JSON.parse(await fs.readFile(variantsFile(out), 'utf8')) as Variant[];
  // Row workers run side by side, one per core: one wasm thread each.
  const ctx = await preparePipeline({ ...config, quiet: true, wasmThreads: 1 }, options);
  try {
    const jobs = rowJobs(config, variants).filter((_, i) => i % shards === shard);
    for (const job of jobs) await evaluateRow(ctx, job);
  } finally {
    ctx.model.dispose();
  }
}

/** Start `unlearn rows` in a child process on the same Node (and tsx loader, from source). */
function spawnRowWorker(out: string, shard: number, shards: number): Promise<void> {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const bin = path.join(path.dirname(here), '..', fromSource ? 'bin.ts' : 'bin.js');
  const prefix = fromSource ? [createRequire(import.meta.url).resolve('tsx/cli'), '--conditions=@unlearnjs/source'] : [];
  const args = [...prefix, bin, 'rows', '--save-dir', out, '--shard', `${shard}/${shards}`];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new UnlearnError(
              'UNLEARN_INVALID_OPTIONS',
              `Row worker ${shard}/${shards} exited with code ${code}; re-run to resume, or use --jobs 1.`,
              {
                details: { shard, code },
              },
            ),
          ),
    );
  });
}

async function evaluateRow(ctx: PipelineContext, job: RowJob): Promise<ResultRow> {
  const { container, config, model, splits, out, logger } = ctx;
  const { variant, method: m } = job;
  const key = rowKey(variant.name, m);
  const file = rowFile(out, job);
  if (await fileExists(file)) {
    logger.info(`${key}: done earlier (${file})`);
    return JSON.parse(await fs.readFile(file, 'utf8')) as ResultRow;
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
  await writeFileAtomic(file, `${JSON.stringify(row, null, 2)}\n`);
  return row;
}
