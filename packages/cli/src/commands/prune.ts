import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createModel, createPlugin, runPruner, writeFileAtomic, PROGRESS, resolve, resnet18OptionsSchema } from '@unlearnjs/core';
import { impOptionsSchema, ompOptionsSchema } from '@unlearnjs/pruning-imp';
import { type Command, Option } from 'commander';
import { CLI_DATA_OPTION_NAMES, CLI_SPLIT_NAMES, type CliIo, addCommonOptions } from '../common-options.js';
import { REFERENCE_DEFAULTS, acceptReferenceFlags, finiteNumber, noteUnusedReferenceFlags } from '../reference-args.js';
import { createRunContext, loadSplits } from '../run-context.js';
import { describeFacts, optionFacts, optionHelp } from '../schema-help.js';
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

/** Help of a flag that sets an IMP option whose default the command sets (the reference's). */
const impHelp = (text: string, key: string) => optionHelp(text, impOptionsSchema, key, { withDefault: false });

/** The epochs of imp's default multistep schedule, as `--decreasing-lr` takes them (`91,136`). */
function impMilestones(): string {
  const schedule = optionFacts(impOptionsSchema, 'schedule')?.default as { milestones?: number[] } | undefined;
  return schedule?.milestones?.join(',') ?? 'none';
}

/**
 * `unlearn prune`: the reference's `main_imp.py`. Every range (and every default the command
 * does not set itself) in `--help` is read from the pruners' schemas, which also check the
 * values, naming the flags, before any data loads.
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
      .option(
        '--width <n>',
        optionHelp('ResNet-18 width (64 = standard)', resnet18OptionsSchema, 'width', { withDefault: false }),
        finiteNumber('--width'),
        64,
      )
      .addOption(
        new Option('--prune-type <type>', 'rewind_lt: IMP with weight rewinding; lt: IMP rewinding to init; omp: one-shot')
          .choices(['rewind_lt', 'lt', 'omp'])
          .default(REFERENCE_DEFAULTS.pruneType),
      )
      .option(
        '--rewind-epoch <n>',
        impHelp('epoch whose weights IMP rewinds to', 'rewindEpoch'),
        finiteNumber('--rewind-epoch'),
        REFERENCE_DEFAULTS.rewindEpoch,
      )
      .option(
        '--rate <r>',
        `IMP: share of the remaining weights pruned per round (${describeFacts(optionFacts(impOptionsSchema, 'rate'))}); omp: the target sparsity (${describeFacts(optionFacts(ompOptionsSchema, 'rate'))})`,
        finiteNumber('--rate'),
      )
      .option(
        '--pruning-times <n>',
        impHelp('rounds (round 0 trains the dense model)', 'pruningTimes'),
        finiteNumber('--pruning-times'),
        REFERENCE_DEFAULTS.pruningTimes,
      )
      .option('--epochs <n>', impHelp('training epochs per round', 'epochs'), finiteNumber('--epochs'), REFERENCE_DEFAULTS.epochs)
      .option('--lr <lr>', impHelp('learning rate', 'lr'), finiteNumber('--lr'), REFERENCE_DEFAULTS.lr)
      .option('--batch-size <n>', impHelp('batch size', 'batchSize'), finiteNumber('--batch-size'), REFERENCE_DEFAULTS.batchSize)
      .option('--momentum <m>', optionHelp('SGD momentum', impOptionsSchema, 'momentum'), finiteNumber('--momentum'))
      .option('--weight-decay <w>', optionHelp('SGD weight decay', impOptionsSchema, 'weightDecay'), finiteNumber('--weight-decay'))
      .option('--warmup <n>', optionHelp('linear warm-up epochs', impOptionsSchema, 'warmupEpochs'), finiteNumber('--warmup'))
      .option('--decreasing-lr <epochs>', `lr ×0.1 at these epochs (default ${impMilestones()})`)
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
        // Left out, imp's own default applies (0.2, the reference's).
        ...(given('rate') ? { rate: opts.rate } : {}),
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
    const modelOptions = opts.arch === 'vit' ? {} : { width: opts.width };
    validateOptions(createPlugin(container, 'model', opts.arch).optionsSchema, modelOptions, `model "${opts.arch}"`, { width: '--width' });
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
    const model = createModel(container, opts.arch, modelOptions);
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
