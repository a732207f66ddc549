import { promises as fs } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import {
  type BackendInfo,
  type DataSplits,
  type DependencyContainer,
  type Logger,
  type Model,
  type ProgressReporter,
  UnlearnError,
  createModel,
  createPlugin,
  fileExists,
  loadModel,
  parseOptions,
  runPruner,
  runServices,
  runUnlearner,
  saveModel,
  train,
  trainOptionsSchema,
  writeFileAtomic,
  PROGRESS,
  resolve,
} from '@unlearnjs/core';
import { type ResultRow, type Results, referenceTestSet, resultRowSchema, writeReport } from '@unlearnjs/eval-mia';
import { pruneCheckpointFiles, sparsityReport } from '@unlearnjs/pruning-imp';
import { evaluateModel } from '../evaluate-model.js';
import { cleanStaleTempFiles, createRunContext, loadSplits } from '../run-context.js';
import type { MethodSpec, PipelineConfig } from './pipeline-config.js';
import { spawnRowWorker } from './row-worker.js';

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
  /**
   * How data errors name the folder and download options (the CLI passes
   * `{ dir: '--data', download: '--download' }`). @defaultValue the library's option names
   */
  dataOptionNames?: { dir?: string; download?: string };
}

/** A model the rows start from: the dense model or the pruned one. */
export interface Variant {
  name: 'dense' | 'sparse';
  checkpoint: string;
  sparsity: number;
}

/** One unlearn-and-evaluate row of the results table. */
export interface RowJob {
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

/** What every stage of the pipeline (and every grid cell) works with. */
export interface PipelineContext {
  config: PipelineConfig;
  out: string;
  logger: Logger;
  container: DependencyContainer;
  splits: DataSplits;
  model: Model;
  backend: BackendInfo;
}

/**
 * Check every plugin option of the config against its plugin's schema, before any data loads:
 * the schemas own the ranges, and a typo must not cost a data load and a training run.
 */
function validateConfig(container: DependencyContainer, config: PipelineConfig): void {
  parseOptions(trainOptionsSchema, config.train, 'train');
  if (config.prune) {
    const pruner = createPlugin(container, 'pruner', config.prune.pruner);
    parseOptions(pruner.optionsSchema, config.prune.options, `pruner "${config.prune.pruner}"`);
  }
  for (const m of config.methods) {
    const unlearner = createPlugin(container, 'unlearner', m.method);
    parseOptions(unlearner.optionsSchema, m.options ?? {}, `unlearner "${m.method}"`);
  }
  if (config.methods.some((m) => m.lora))
    parseOptions(createPlugin(container, 'adapter', 'lora').optionsSchema, config.lora ?? {}, 'adapter "lora"');
}

/**
 * Set up a run of `config`: backend, plugins, container (options checked against their
 * schemas before any data loads), data splits and the (untrained) model.
 * @param config - the pipeline configuration
 * @param options - logger, progress, abort signal
 * @returns the stages' context (dispose `model` when done)
 */
export async function preparePipeline(config: PipelineConfig, options: RunPipelineOptions): Promise<PipelineContext> {
  const out = path.resolve(config.outDir);
  const { container, logger, backend } = await createRunContext({
    backend: config.backend,
    wasmThreads: config.wasmThreads,
    seed: config.seed,
    plugins: config.plugins,
    quiet: config.quiet,
    stream: options.stream,
    logger: options.logger,
    progress: options.progress,
    signal: options.signal,
  });
  validateConfig(container, config);
  const splits = await loadSplits({
    progress: resolve(container, PROGRESS),
    dir: config.data.dir,
    download: config.data.download,
    quiet: config.quiet,
    trainLimit: config.data.trainLimit,
    testLimit: config.data.testLimit,
    validationSize: config.data.validationSize,
    seed: config.seed,
    classToForget: config.data.classToForget,
    numToForget: config.data.numToForget,
    optionNames: options.dataOptionNames,
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
 * Read a finished row. A row file that is not a valid row of this job (truncated or empty by a
 * crash, a NaN, a row of another model) is not a finished row: the caller recomputes it.
 *
 * @returns the row, `undefined` when there is no file, or the reason it cannot be used
 */
async function readRow(file: string, job: RowJob): Promise<ResultRow | undefined | { unusable: string }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { unusable: (err as Error).message };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { unusable: text.trim() === '' ? 'it is empty' : 'it is not valid JSON' };
  }
  const parsed = resultRowSchema.safeParse(json);
  if (!parsed.success) return { unusable: parsed.error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; ') };
  const row = parsed.data;
  const sparsity = job.variant.name === 'dense' ? 'dense' : job.variant.sparsity;
  if (row.method !== job.method.method || row.sparsity !== sparsity || (row.lora ?? false) !== (job.method.lora ?? false)) {
    return { unusable: `it is a row of ${row.method} at sparsity ${row.sparsity}, not of this model` };
  }
  return row;
}

/**
 * Run the pruner on the context's model and save the sparse model.
 * @returns its global sparsity
 */
export async function pruneToSparse(
  ctx: PipelineContext,
  prune: NonNullable<PipelineConfig['prune']>,
  checkpointDir: string,
  sparseCkpt: string,
): Promise<number> {
  const report = await runPruner(ctx.container, prune.pruner, {
    model: ctx.model,
    data: ctx.splits,
    options: prune.options,
    checkpointDir,
  });
  const sparsity = report.sparsity.global;
  await saveModel(sparseCkpt, ctx.model, { stage: 'sparse', sparsity, pruner: prune.pruner });
  return sparsity;
}

/** The sparse model's sparsity, from its masks (a checkpoint's metadata could say anything). */
function maskSparsity(model: Model): number {
  return sparsityReport(model).global;
}

/**
 * Train the context's model densely with the config's recipe (resuming from `trainCheckpoint`,
 * written every epoch) and save it to `denseCkpt`.
 * @param ctx - the stages' context
 * @param denseCkpt - where the trained model goes
 * @param trainCheckpoint - the per-epoch training checkpoint (resume)
 */
export async function trainDense(ctx: PipelineContext, denseCkpt: string, trainCheckpoint: string): Promise<void> {
  const { config, model, splits, container, logger } = ctx;
  const report = await train(model, {
    ...config.train,
    data: splits.train,
    evalSet: splits.test,
    evalEvery: config.train.epochs,
    checkpoint: trainCheckpoint,
    label: 'train dense',
    services: runServices(container, 'train:dense'),
  });
  await saveModel(denseCkpt, model, { stage: 'dense', testAccuracy: report.accuracy });
  logger.info(`train: test accuracy ${report.accuracy?.toFixed(2)}% at ${report.imagesPerSecond.toFixed(1)} img/s`);
}

/**
 * Run the whole pipeline: train a dense model, prune it, unlearn with every method on the dense
 * and the sparse model (with and without LoRA where asked), evaluate UA/RA/TA/MIA-efficacy/RTE,
 * and write the results table, charts and HTML report.
 *
 * @remarks Every stage checkpoints into `config.outDir`, atomically: the dense training per
 * epoch, each pruning round, each unlearning row. A re-run with the same config resumes where
 * the last one stopped instead of recomputing (a row file that cannot be read is computed
 * again; temporary files of killed runs are removed). With `config.jobs` > 1 the unlearning rows
 * are shared among that many processes (the wasm backend uses one core per process); every row
 * draws its randomness from its own fork of the seed, so the results do not depend on `jobs`.
 * When `config.prune.trainsDense` is set, the pruner trains the dense model itself (its round 0,
 * as the reference's OMP with rewinding) and that is the dense row's model.
 *
 * @param config - the pipeline configuration (see `presetConfig`)
 * @param options - logger, progress reporter, abort signal
 * @returns the results and where the report is
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a bad plugin option (before any data
 *   loads); `UNLEARN_WORKER_CRASHED` when a row process dies; what the stages throw
 */
export async function runPipeline(config: PipelineConfig, options: RunPipelineOptions = {}): Promise<PipelineResult> {
  const t0 = performance.now();
  await fs.mkdir(path.resolve(config.outDir), { recursive: true });
  const ctx = await preparePipeline(config, options);
  const { out, logger, splits, model } = ctx;
  await cleanStaleTempFiles(out, logger);
  await writeFileAtomic(path.join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const heldOut = referenceTestSet({ ...splits }).description;
  logger.info(`unlearnjs pipeline "${config.preset}": ${config.arch} ${JSON.stringify(config.model)} → ${out}`);
  logger.info(
    `data: train ${splits.train.indices.length}, validation ${splits.validation.indices.length}, forget ${splits.forget.indices.length} (${splits.classToForget >= 0 ? `class ${splits.classToForget}` : 'random'}), retain ${splits.retain.indices.length}, test ${splits.test.indices.length}; TA and the MIA's non-members: ${heldOut}`,
  );
  try {
    const denseCkpt = path.join(out, 'models', 'dense.ckpt');
    const sparseCkpt = path.join(out, 'models', 'sparse.ckpt');
    const pruneDir = path.join(out, 'prune');
    const variants: Variant[] = [{ name: 'dense', checkpoint: denseCkpt, sparsity: 0 }];
    let sparsity: number | undefined;

    // Stage 1: dense training (resumes from its per-epoch checkpoint), unless the pruner trains
    // the dense model as its round 0.
    if (await fileExists(denseCkpt)) {
      logger.info(`train: found ${denseCkpt}`);
    } else if (config.prune?.trainsDense) {
      sparsity = await pruneToSparse(ctx, config.prune, pruneDir, sparseCkpt);
      await fs.copyFile(pruneCheckpointFiles(pruneDir).round(0), denseCkpt);
      logger.info(`prune: ${config.prune.pruner} trained the dense model (round 0) and pruned it to ${(100 * sparsity).toFixed(2)}%`);
    } else {
      await trainDense(ctx, denseCkpt, path.join(out, 'models', 'dense.train.ckpt'));
    }

    // Stage 2: pruning (the trained dense model, unless the pruner trained it above).
    if (config.prune) {
      if (await fileExists(sparseCkpt)) {
        await loadModel(sparseCkpt, model);
        sparsity = maskSparsity(model);
        logger.info(`prune: loaded ${sparseCkpt} (sparsity ${(100 * sparsity).toFixed(1)}%, from its masks)`);
      } else {
        await loadModel(denseCkpt, model);
        // Say which recipe runs: the quick presets prune the trained model and fine-tune it
        // (no rewind), unlike the reference's OMP (see trainsDense).
        logger.info(`prune: ${config.prune.pruner} ${JSON.stringify(config.prune.options)} on the trained dense model`);
        sparsity = await pruneToSparse(ctx, config.prune, pruneDir, sparseCkpt);
        logger.info(`prune: ${config.prune.pruner} → global sparsity ${(100 * sparsity).toFixed(2)}%`);
      }
      variants.push({ name: 'sparse', checkpoint: sparseCkpt, sparsity: sparsity ?? maskSparsity(model) });
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
    const children: Array<ReturnType<typeof spawnRowWorker>> = [];
    for (let w = handOff ? 0 : 1; w < workers; w++) children.push(spawnRowWorker(out, w, workers));
    // Settle every worker (none left running), then report the first failure.
    const settled = Promise.allSettled(children.map((c) => c.done));
    const mine = handOff ? [] : jobs.filter((_, i) => i % workers === 0);
    try {
      for (const job of mine) await evaluateRow(ctx, job);
    } catch (err) {
      for (const c of children) c.stop();
      await settled;
      throw err;
    }
    const failed = (await settled).find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const rows: ResultRow[] = [];
    for (const job of jobs) {
      const row = await readRow(rowFile(out, job), job);
      if (row === undefined || 'unusable' in row) {
        throw new UnlearnError(
          'UNLEARN_DATA_CORRUPT',
          `The row file ${rowFile(out, job)} ${row ? `cannot be used (${row.unusable})` : 'is missing'} after its worker finished; re-run to compute it again.`,
          { details: { file: rowFile(out, job) } },
        );
      }
      rows.push(row);
    }

    // Stage 5: report.
    const results: Results = {
      schemaVersion: 1,
      createdAt: new Date().toISOString(),
      model: { arch: config.arch, config: model.config as Record<string, unknown>, sparsity: variants[1]?.sparsity ?? 0 },
      forget: { classToForget: splits.classToForget, size: splits.forget.indices.length, seed: config.seed, heldOut },
      retain: {
        size: splits.retain.indices.length,
        evaluated: Math.min(splits.retain.indices.length, config.evaluation.maxRetain ?? Number.POSITIVE_INFINITY),
      },
      rows,
    };
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
  let config: PipelineConfig;
  let variants: Variant[];
  try {
    config = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8')) as PipelineConfig;
    variants = JSON.parse(await fs.readFile(variantsFile(out), 'utf8')) as Variant[];
  } catch (cause) {
    throw new UnlearnError(
      'UNLEARN_DATA_MISSING',
      `${out} holds no prepared run (config.json and models/variants.json); start it with \`unlearn run\`.`,
      {
        details: { dir: out },
        cause,
      },
    );
  }
  // Row workers run side by side, one per core: one wasm thread each.
  const ctx = await preparePipeline({ ...config, quiet: true, wasmThreads: 1 }, options);
  try {
    const jobs = rowJobs(config, variants).filter((_, i) => i % shards === shard);
    for (const job of jobs) await evaluateRow(ctx, job);
  } finally {
    ctx.model.dispose();
  }
}

async function evaluateRow(ctx: PipelineContext, job: RowJob): Promise<ResultRow> {
  const { out, logger } = ctx;
  const key = rowKey(job.variant.name, job.method);
  const file = rowFile(out, job);
  const earlier = await readRow(file, job);
  if (earlier && !('unusable' in earlier)) {
    logger.info(`${key}: done earlier (${file})`);
    return earlier;
  }
  // A warning, so that quiet row workers report it too: a row that was thought finished is redone.
  if (earlier) logger.warn(`${key}: ${file} cannot be used (${earlier.unusable}); computing the row again`);
  const row = await computeRow(ctx, job);
  await writeFileAtomic(file, `${JSON.stringify(row, null, 2)}\n`);
  return row;
}

/**
 * Compute one row: load the variant's checkpoint, unlearn with the method (nothing for
 * `original`), evaluate UA/RA/TA/MIA-efficacy and time it. Writes nothing.
 * @param ctx - the stages' context
 * @param job - the variant and the method
 * @returns the row
 */
export async function computeRow(ctx: PipelineContext, job: RowJob): Promise<ResultRow> {
  const { container, config, model, splits, logger } = ctx;
  const { variant, method: m } = job;
  const key = rowKey(variant.name, m);
  await loadModel(variant.checkpoint, model);
  let seconds = 0;
  let extra: Record<string, unknown> = {};
  if (m.method !== 'original') {
    logger.info(`${key}: unlearning with ${m.method}${m.lora ? ' + LoRA' : ''} on the ${variant.name} model`);
    const report = await runUnlearner(container, m.method, {
      model,
      data: { forget: splits.forget, retain: splits.retain, validation: splits.validation, classToForget: splits.classToForget },
      options: m.options ?? {},
      adapter: m.lora ? { name: 'lora', options: config.lora } : undefined,
    });
    seconds = report.seconds;
    extra = report.extra;
  }
  const { metrics } = await evaluateModel(container, model, splits, {
    maxRetain: config.evaluation.maxRetain,
    batchSize: config.evaluation.batchSize,
    mia: config.evaluation.mia,
  });
  const row: ResultRow = {
    method: m.method,
    sparsity: variant.name === 'dense' ? 'dense' : variant.sparsity,
    ...(m.lora ? { lora: true } : {}),
    metrics: { ...metrics, RTE: seconds / 60 },
    seconds,
    options: { ...(m.options ?? {}), ...(Object.keys(extra).length ? { report: JSON.parse(JSON.stringify(extra)) } : {}) },
  };
  logger.info(
    `${key}: UA ${metrics.UA.toFixed(2)} | MIA ${metrics['MIA-efficacy'].toFixed(2)} | RA ${metrics.RA.toFixed(2)} | TA ${metrics.TA.toFixed(2)} | RTE ${(seconds / 60).toFixed(2)} min`,
  );
  return row;
}
