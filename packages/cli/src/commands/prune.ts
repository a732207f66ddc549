import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createModel, createPlugin, runPruner, writeFileAtomic, PROGRESS, resolve } from '@unlearnjs/core';
import { type Command, Option } from 'commander';
import { CLI_DATA_OPTION_NAMES, CLI_SPLIT_NAMES, type CliIo, addCommonOptions } from '../common-options.js';
import { REFERENCE_DEFAULTS, acceptReferenceFlags, finiteNumber, integer, noteUnusedReferenceFlags } from '../reference-args.js';
import { createRunContext, loadSplits } from '../run-context.js';
import { checkDataset, validateOptions } from './checks.js';

/** Flags of `unlearn prune` and the pruner options they set. */
const PRUNE_FLAG_OF: Record<string, string> = {
  rate: '--rate',
  pruningTimes: '--pruning-times',
  rewindEpoch: '--rewind-epoch',
  rewind: '--rewind-epoch',
  epochs: '--epochs',
  retrainEpochs: '--epochs',
  lr: '--lr',
  batchSize: '--batch-size',
  momentum: '--momentum',
  weightDecay: '--weight-decay',
  warmupEpochs: '--warmup',
  schedule: '--decreasing-lr',
  augment: '--no-aug',
};

/**
 * `unlearn prune`: the reference's `main_imp.py`.
 * @param program - the root program
 * @param io - output streams
 */
export function addPruneCommand(program: Command, io: CliIo): void {
  const cmd = addCommonOptions(
    program
      .command('prune')
      .description('Train and prune a model (IMP with rewinding, or one-shot OMP), writing <save_dir>/<round>model_SA_best.ckpt per round.')
      .addOption(
        new Option('--arch <name>', 'model (torch-resnet18: PyTorch padding, exportable with `unlearn export`)')
          .choices(['resnet18', 'torch-resnet18', 'vit'])
          .default('resnet18'),
      )
      .option('--width <n>', 'ResNet-18 width (64 = standard)', integer('--width', 4, 512), 64)
      .addOption(
        new Option('--prune-type <type>', 'rewind_lt: IMP with weight rewinding; lt: IMP rewinding to init; omp: one-shot')
          .choices(['rewind_lt', 'lt', 'omp'])
          .default(REFERENCE_DEFAULTS.pruneType),
      )
      .option('--rewind-epoch <n>', 'epoch whose weights IMP rewinds to', integer('--rewind-epoch', 0), REFERENCE_DEFAULTS.rewindEpoch)
      .option(
        '--rate <r>',
        "IMP: share of the remaining weights pruned per round (default 0.2); omp: the target sparsity (default: omp's own, 0.95)",
        finiteNumber('--rate'),
      )
      .option(
        '--pruning-times <n>',
        'rounds (round 0 trains the dense model)',
        integer('--pruning-times', 1),
        REFERENCE_DEFAULTS.pruningTimes,
      )
      .option('--epochs <n>', 'training epochs per round', integer('--epochs', 0), REFERENCE_DEFAULTS.epochs)
      .option('--lr <lr>', 'learning rate', finiteNumber('--lr'), REFERENCE_DEFAULTS.lr)
      .option('--batch-size <n>', 'batch size', integer('--batch-size', 1), REFERENCE_DEFAULTS.batchSize)
      .option('--momentum <m>', 'SGD momentum (default 0.9)', finiteNumber('--momentum'))
      .option('--weight-decay <w>', 'SGD weight decay (default 5e-4)', finiteNumber('--weight-decay'))
      .option('--warmup <n>', 'linear warm-up epochs (default 0)', integer('--warmup', 0))
      .option('--decreasing-lr <epochs>', 'lr ×0.1 at these epochs (default 91,136)')
      .option('--no-aug', 'no random crop / flip while training')
      .option('--save-dir <dir>', 'output folder', 'out'),
    REFERENCE_DEFAULTS.seed,
  );
  acceptReferenceFlags(cmd).action(async (opts) => {
    const say = (line: string) => io.stderr(`${line}\n`);
    checkDataset(opts.dataset);
    noteUnusedReferenceFlags(cmd, opts, say);
    const omp = opts.pruneType === 'omp';
    const given = (attr: string) => cmd.getOptionValueSource(attr) === 'cli';
    const training: Record<string, unknown> = { lr: opts.lr, batchSize: opts.batchSize };
    if (given('momentum')) training.momentum = opts.momentum;
    if (given('weightDecay')) training.weightDecay = opts.weightDecay;
    if (given('warmup')) training.warmupEpochs = opts.warmup;
    if (given('aug')) training.augment = false;
    if (given('decreasingLr')) {
      training.schedule = {
        type: 'multistep',
        milestones: String(opts.decreasingLr)
          .split(',')
          .map((s) => Number(s.trim())),
        gamma: 0.1,
      };
    }
    let options: Record<string, unknown>;
    if (omp) {
      if (!given('rate'))
        say(
          "note: --rate not given: omp prunes to its own default target sparsity 0.95 (the reference's --rate 0.2 is IMP's per-round rate)",
        );
      if (given('pruningTimes')) say('note: --pruning-times: omp always runs 2 rounds (dense, then sparse); the flag is unused');
      options = {
        ...(given('rate') ? { rate: opts.rate } : {}),
        epochs: opts.epochs,
        retrainEpochs: opts.epochs,
        rewind: opts.rewindEpoch,
        ...training,
      };
    } else {
      options = {
        rate: opts.rate ?? REFERENCE_DEFAULTS.rate,
        pruningTimes: opts.pruningTimes,
        rewindEpoch: opts.pruneType === 'lt' ? 0 : opts.rewindEpoch,
        epochs: opts.epochs,
        ...training,
      };
    }
    const { container, logger } = await createRunContext({ ...opts, plugins: opts.plugin, stream: { write: io.stderr } });
    const pruner = omp ? 'omp' : 'imp';
    // Every range is the pruner's schema's: check it before loading 50,000 images.
    validateOptions(createPlugin(container, 'pruner', pruner).optionsSchema, options, `pruner "${pruner}"`, PRUNE_FLAG_OF);
    const splits = await loadSplits({
      progress: resolve(container, PROGRESS),
      dir: opts.data,
      download: opts.download,
      quiet: opts.quiet,
      trainLimit: opts.trainLimit,
      testLimit: opts.testLimit,
      seed: opts.seed,
      classToForget: -1,
      optionNames: CLI_DATA_OPTION_NAMES,
      splitNames: CLI_SPLIT_NAMES,
    });
    const model = createModel(container, opts.arch, opts.arch === 'vit' ? {} : { width: opts.width });
    try {
      const report = await runPruner(container, pruner, { model, data: splits, checkpointDir: path.join(opts.saveDir, 'rounds'), options });
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
}
