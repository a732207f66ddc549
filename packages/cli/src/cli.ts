import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  type BackendRequest,
  type DependencyContainer,
  UnlearnError,
  createBarProgress,
  createConsoleLogger,
  createContainer,
  createModel,
  fileExists,
  initBackend,
  listPlugins,
  loadCifar10,
  loadModel,
  makeSplits,
  readCheckpoint,
  runEvaluator,
  runPruner,
  runUnlearner,
  saveModel,
  silentProgress,
  writeFileAtomic,
} from '@unlearnjs/core';
import { validateResults, writeReport } from '@unlearnjs/eval-mia';
import { runPipeline, runPipelineShard } from './pipeline/run-pipeline.js';
import { type PresetName, presetConfig } from './pipeline/presets.js';
import { FIRST_PARTY_PLUGINS, loadPluginPackages } from './plugins.js';
import { IGNORED_FLAGS, normaliseFlags, resolveMethod } from './reference-args.js';

/** Where the CLI writes: injectable for tests. */
export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** This package's version: src/ and dist/ both sit one level below package.json. */
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

const defaultIo: CliIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

function int(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got "${v}".`);
    return n;
  };
}
function num(name: string, min: number, max: number, openMin = false) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (openMin && n === min)) {
      throw new InvalidArgumentError(`${name} must be a number in ${openMin ? '(' : '['}${min}, ${max}], got "${v}".`);
    }
    return n;
  };
}

interface CommonOpts {
  data?: string;
  backend: BackendRequest;
  wasmThreads?: number;
  seed: number;
  plugin: string[];
  quiet?: boolean;
  trainLimit?: number;
  testLimit?: number;
}

function addCommon(cmd: Command): Command {
  return (
    cmd
      .option(
        '--data <dir>',
        'CIFAR-10 binary folder (default: $CIFAR10_DIR, else ../shared/data/cifar10, else ~/.cache/unlearnjs/cifar10)',
      )
      .option('--dataset <name>', 'data set; only cifar10 is supported', 'cifar10')
      .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']).default('auto'))
      // Default 1: on the 2-core machines this CLI is sized for, 2 wasm threads were measured
      // slower than 1 whenever anything else ran (docs/performance.md, "Threads"), and the
      // pipeline already uses both cores with two row processes.
      .option(
        '--wasm-threads <n>',
        'threads of the wasm backend, 1-8 (default 1; see docs/performance.md "Threads"); in `run`, used by the single-process stages',
        int('--wasm-threads', 1, 8),
      )
      .option('--seed <n>', 'seed of every random choice', int('--seed', 0), 1)
      .option('--plugin <package...>', 'third-party plugin packages to load (each exports a registerX function)', [])
      .option('--train-limit <n>', 'use only the first N training images (quick runs)', int('--train-limit', 10))
      .option('--test-limit <n>', 'use only the first N test images', int('--test-limit', 10))
      .option('--quiet', 'no progress bars')
      .option('--download', 'download CIFAR-10 when the folder is missing')
      .option('--num-workers <n>', 'ignored (reference flag)')
      .option('--gpu <n>', 'ignored (reference flag; use --backend)')
      .option('--print-freq <n>', 'ignored (reference flag)')
      .option('--workers <n>', 'ignored (reference flag)')
  );
}

async function setup(opts: CommonOpts & { download?: boolean; dataset?: string }, io: CliIo) {
  if (opts.dataset && opts.dataset !== 'cifar10') {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `--dataset ${opts.dataset} is not supported; only cifar10 is.`);
  }
  const logger = createConsoleLogger({ quiet: opts.quiet, stream: { write: io.stderr } });
  // The backend is always reported, even with --quiet.
  await initBackend(opts.backend, { logger: createConsoleLogger({ stream: { write: io.stderr } }), wasmThreads: opts.wasmThreads });
  const extra = await loadPluginPackages(opts.plugin ?? []);
  const container = createContainer({
    seed: opts.seed,
    use: [...FIRST_PARTY_PLUGINS, ...extra],
    logger,
    progress: opts.quiet ? silentProgress : createBarProgress(),
  });
  return { container, logger };
}

async function loadSplits(opts: CommonOpts & { download?: boolean }, forget: { classToForget: number; numToForget?: number }) {
  const common = { dir: opts.data, download: opts.download, quiet: opts.quiet };
  const train = await loadCifar10({ ...common, split: 'train', limit: opts.trainLimit });
  const test = await loadCifar10({ ...common, split: 'test', limit: opts.testLimit });
  return makeSplits(train, test, { seed: opts.seed, ...forget });
}

async function resolveCheckpoint(p: string): Promise<string> {
  for (const c of [p, `${p}.ckpt`]) if (await fileExists(c)) return c;
  throw new UnlearnError(
    'UNLEARN_CHECKPOINT_MISSING',
    `No checkpoint at ${p} (nor ${p}.ckpt); run \`unlearn prune\` first or check the path.`,
    {
      details: { file: p },
    },
  );
}

async function modelFromCheckpoint(container: DependencyContainer, file: string) {
  const ck = await readCheckpoint(file);
  const model = createModel(container, String(ck.meta.arch), (ck.meta.config ?? {}) as Record<string, unknown>);
  await loadModel(file, model);
  return { model, meta: ck.meta };
}

function noteIgnored(opts: Record<string, unknown>, io: CliIo): void {
  for (const [flag, note] of Object.entries(IGNORED_FLAGS)) {
    const key = flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (opts[key] !== undefined) io.stderr(`note: ${flag}: ${note}\n`);
  }
}

/**
 * Build the `unlearn` command-line program.
 * @param io - output streams
 * @returns the commander program (call `parseAsync`)
 */
export function createProgram(io: CliIo = defaultIo): Command {
  const program = new Command('unlearn')
    .description('Machine unlearning for TensorFlow.js: prune, forget, evaluate, report.')
    .version(VERSION, '-V, --version', 'print the version of @unlearnjs/cli')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  addCommon(
    program
      .command('run')
      .description('Run the whole pipeline (train → prune → unlearn with every method → evaluate → report) from a preset.')
      .addOption(
        new Option('--preset <name>', 'ci (tiny, CI), quick (2-core CPU, ~15 min), paper (reference recipe, GPU)')
          .choices(['ci', 'quick', 'paper'])
          .default('quick'),
      )
      .addOption(new Option('--arch <name>', 'model').choices(['resnet18', 'vit']).default('resnet18'))
      .option('--save-dir <dir>', 'output folder (default runs/<arch>-<preset>)')
      .option('--jobs <n>', 'processes sharing the unlearning rows (default: one per core, at most 2, on wasm/cpu)', int('--jobs', 1, 64)),
  ).action(async (opts) => {
    const config = presetConfig(opts.preset as PresetName, opts.arch);
    const res = await runPipeline(
      {
        ...config,
        backend: opts.backend,
        ...(opts.wasmThreads !== undefined ? { wasmThreads: opts.wasmThreads } : {}),
        seed: opts.seed,
        plugins: opts.plugin,
        quiet: opts.quiet,
        outDir: opts.saveDir ?? config.outDir,
        jobs: opts.jobs ?? 'auto',
        data: {
          ...config.data,
          dir: opts.data ?? config.data.dir,
          download: opts.download,
          trainLimit: opts.trainLimit ?? config.data.trainLimit,
        },
      },
      { stream: { write: io.stderr } },
    );
    io.stdout(`${(await fs.readFile(path.join(res.reportDir, 'results.md'), 'utf8')).trim()}\n`);
  });

  addCommon(
    program
      .command('prune')
      .description('Train and prune a model (IMP with rewinding, or one-shot OMP), writing <save_dir>/<round>model_SA_best.ckpt per round.')
      .addOption(new Option('--arch <name>', 'model').choices(['resnet18', 'vit']).default('resnet18'))
      .option('--width <n>', 'ResNet-18 width (64 = standard)', int('--width', 4, 512), 64)
      .addOption(
        new Option('--prune-type <type>', 'rewind_lt: IMP with weight rewinding; lt: IMP rewinding to init; omp: one-shot')
          .choices(['rewind_lt', 'lt', 'omp'])
          .default('rewind_lt'),
      )
      .option('--rewind-epoch <n>', 'epoch whose weights IMP rewinds to', int('--rewind-epoch', 0), 8)
      .option('--rate <r>', 'share of the remaining weights pruned per round, in (0, 1)', num('--rate', 0, 1, true), 0.2)
      .option('--pruning-times <n>', 'rounds (round 0 trains the dense model)', int('--pruning-times', 1, 100), 2)
      .option('--epochs <n>', 'training epochs per round', int('--epochs', 1), 182)
      .option('--lr <lr>', 'learning rate', num('--lr', 0, 10, true), 0.1)
      .option('--batch-size <n>', 'batch size', int('--batch-size', 1), 256)
      .option('--save-dir <dir>', 'output folder', 'out'),
  ).action(async (opts) => {
    noteIgnored(opts, io);
    const { container, logger } = await setup(opts, io);
    const splits = await loadSplits(opts, { classToForget: -1 });
    const model = createModel(container, opts.arch, opts.arch === 'resnet18' ? { width: opts.width } : {});
    try {
      const omp = opts.pruneType === 'omp';
      const report = await runPruner(container, omp ? 'omp' : 'imp', {
        model,
        data: splits,
        checkpointDir: path.join(opts.saveDir, 'rounds'),
        options: (omp
          ? {
              rate: opts.rate,
              epochs: opts.epochs,
              retrainEpochs: opts.epochs,
              rewind: opts.rewindEpoch,
              lr: opts.lr,
              batchSize: opts.batchSize,
            }
          : {
              rate: opts.rate,
              pruningTimes: opts.pruningTimes,
              rewindEpoch: opts.pruneType === 'lt' ? 0 : opts.rewindEpoch,
              epochs: opts.epochs,
              lr: opts.lr,
              batchSize: opts.batchSize,
            }) as never,
      });
      for (const r of report.rounds) {
        if (!r.checkpoint) continue;
        const dest = path.join(opts.saveDir, `${r.round}model_SA_best.ckpt`);
        await fs.copyFile(r.checkpoint, dest);
        logger.info(
          `round ${r.round}: sparsity ${(100 * r.sparsity.global).toFixed(2)}%${r.accuracy === undefined ? '' : `, accuracy ${r.accuracy.toFixed(2)}%`} → ${dest}`,
        );
      }
      await writeFileAtomic(path.join(opts.saveDir, 'prune-report.json'), `${JSON.stringify(report, null, 2)}\n`);
      io.stdout(
        `${JSON.stringify({ rounds: report.rounds.map((r) => ({ round: r.round, sparsity: r.sparsity.global, accuracy: r.accuracy })) })}\n`,
      );
    } finally {
      model.dispose();
    }
  });

  addCommon(
    program
      .command('forget')
      .description('Unlearn a forget set from a (pruned) checkpoint and evaluate UA, RA, TA, MIA-efficacy and run time.')
      .requiredOption('--mask <checkpoint>', 'the model to unlearn from, e.g. out/1model_SA_best (a pruning round)')
      .requiredOption(
        '--unlearn <method>',
        'GA | FT | RL | fisher_new | wfisher | retrain | FT_prune, or a plugin id (ga, ft, rl, fisher, influence, retrain, l1-sparse)',
      )
      .option('--num-indexes-to-replace <n>', 'random forgetting: how many training images to forget', int('--num-indexes-to-replace', 1))
      .option(
        '--class-to-replace <c>',
        'class-wise forgetting of class c (0-9); -1 = random forgetting',
        int('--class-to-replace', -1, 9),
        -1,
      )
      .option('--unlearn-lr <lr>', 'learning rate of iterative methods', num('--unlearn-lr', 0, 10, true))
      .option('--unlearn-epochs <n>', 'epochs of iterative methods', int('--unlearn-epochs', 0))
      .option('--alpha <a>', 'strength: Fisher noise scale, influence step, or l1 penalty', num('--alpha', 0, 1e9))
      .option('--batch-size <n>', 'batch size', int('--batch-size', 1))
      .option('--lora', 'train LoRA adapters instead of the whole model (iterative methods), merged back with the mask kept')
      .option('--lora-rank <r>', 'LoRA rank', int('--lora-rank', 1), 8)
      .option('--save-dir <dir>', 'output folder', 'out'),
  ).action(async (opts) => {
    noteIgnored(opts, io);
    const { container, logger } = await setup(opts, io);
    const known = listPlugins(container, 'unlearner').map((p) => p.name);
    const method = resolveMethod(opts.unlearn, known);
    const file = await resolveCheckpoint(opts.mask);
    const classToForget = opts.classToReplace;
    const splits = await loadSplits(opts, { classToForget, numToForget: classToForget >= 0 ? undefined : opts.numIndexesToReplace });
    const { model } = await modelFromCheckpoint(container, file);
    try {
      const options: Record<string, unknown> = {};
      if (opts.unlearnLr !== undefined) options.lr = opts.unlearnLr;
      if (opts.unlearnEpochs !== undefined) options.epochs = opts.unlearnEpochs;
      if (opts.alpha !== undefined) options.alpha = opts.alpha;
      if (opts.batchSize !== undefined) options.batchSize = opts.batchSize;
      const report = await runUnlearner(container, method, {
        model,
        data: { forget: splits.forget, retain: splits.retain, validation: splits.validation, classToForget: splits.classToForget },
        options: options as never,
        adapter: opts.lora ? { name: 'lora', options: { rank: opts.loraRank } } : undefined,
      });
      const out = path.join(opts.saveDir, `${method}${opts.lora ? '-lora' : ''}`);
      await saveModel(path.join(out, 'unlearned.ckpt'), model, { method, unlearnedFrom: file, report: JSON.parse(JSON.stringify(report)) });
      const data = {
        forget: splits.forget,
        retain: splits.retain,
        test: splits.test,
        testRetainClasses: splits.testRetainClasses,
        classToForget,
      };
      const acc = await runEvaluator(container, 'accuracy', { model, data });
      const mia = await runEvaluator(container, 'svc-mia', { model, data, options: { features: ['confidence'], privacy: false } as never });
      const metrics = {
        UA: acc.metrics.UA,
        RA: acc.metrics.RA,
        TA: acc.metrics.TA,
        'MIA-efficacy': mia.metrics['MIA-efficacy'],
        RTE: report.seconds / 60,
      };
      await writeFileAtomic(path.join(out, 'metrics.json'), `${JSON.stringify({ method, metrics, report }, null, 2)}\n`);
      logger.info(`saved ${path.join(out, 'unlearned.ckpt')}`);
      io.stdout(`${JSON.stringify({ method, metrics })}\n`);
    } finally {
      model.dispose();
    }
  });

  addCommon(
    program
      .command('eval')
      .description('Evaluate a checkpoint: UA, RA, TA and MIA-efficacy on a forget set.')
      .requiredOption('--checkpoint <file>', 'model checkpoint')
      .option('--num-indexes-to-replace <n>', 'random forget set size', int('--num-indexes-to-replace', 1))
      .option('--class-to-replace <c>', 'forgotten class, or -1 for random forgetting', int('--class-to-replace', -1, 9), -1),
  ).action(async (opts) => {
    const { container } = await setup(opts, io);
    const file = await resolveCheckpoint(opts.checkpoint);
    const splits = await loadSplits(opts, {
      classToForget: opts.classToReplace,
      numToForget: opts.classToReplace >= 0 ? undefined : opts.numIndexesToReplace,
    });
    const { model } = await modelFromCheckpoint(container, file);
    try {
      const data = { ...splits, classToForget: splits.classToForget };
      const acc = await runEvaluator(container, 'accuracy', { model, data });
      const mia = await runEvaluator(container, 'svc-mia', { model, data });
      io.stdout(`${JSON.stringify({ checkpoint: file, metrics: { ...acc.metrics, ...mia.metrics } })}\n`);
    } finally {
      model.dispose();
    }
  });

  program
    .command('rows', { hidden: true })
    .description('Worker of `unlearn run --jobs N`: compute one shard of the unlearning rows of a prepared run.')
    .requiredOption('--save-dir <dir>', 'the run folder')
    .requiredOption('--shard <i/n>', 'which shard')
    .action(async (opts) => {
      const [i, n] = String(opts.shard).split('/').map(Number);
      if (!Number.isInteger(i) || !Number.isInteger(n) || i < 0 || i >= n) {
        throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `--shard must be i/n with 0 <= i < n, got "${opts.shard}".`);
      }
      await runPipelineShard(opts.saveDir, i, n, { stream: { write: io.stderr } });
    });

  program
    .command('report')
    .description('Render results.json into a Markdown table, SVG charts and a self-contained HTML report.')
    .requiredOption('--results <file>', 'results.json written by `unlearn run`')
    .option('--out <dir>', 'output folder (default: next to the results file)')
    .action(async (opts) => {
      let text: string;
      try {
        text = await fs.readFile(opts.results, 'utf8');
      } catch (cause) {
        throw new UnlearnError('UNLEARN_DATA_MISSING', `No results file at ${opts.results}; run \`unlearn run\` first.`, { cause });
      }
      const results = validateResults(text);
      const dir = opts.out ?? path.dirname(opts.results);
      await writeReport(results, dir);
      io.stdout(`${(await fs.readFile(path.join(dir, 'results.md'), 'utf8')).trim()}\n`);
    });

  return program;
}

/**
 * Run the CLI: one clear line and a non-zero exit on bad input, never a stack trace unless
 * `UNLEARN_DEBUG=1`.
 *
 * @param argv - arguments after `node unlearn`
 * @param io - output streams
 * @returns the exit code
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(normaliseFlags(argv), { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander already printed its message (help, version, or a usage error)
      return e.exitCode ?? 1;
    }
    if (err instanceof UnlearnError) {
      io.stderr(`unlearn: error: ${err.message} [${err.code}]\n`);
      if (process.env.UNLEARN_DEBUG) io.stderr(`${err.stack}\n`);
      return 2;
    }
    io.stderr(`unlearn: unexpected error: ${e.message ?? String(err)} (set UNLEARN_DEBUG=1 for the stack trace)\n`);
    if (process.env.UNLEARN_DEBUG) io.stderr(`${(err as Error).stack}\n`);
    return 1;
  }
}
