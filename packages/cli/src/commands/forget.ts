import * as path from 'node:path';
import {
  type DataSplits,
  type DependencyContainer,
  PROGRESS,
  UnlearnError,
  createPlugin,
  listPlugins,
  resolve,
  runUnlearner,
  saveModel,
  writeFileAtomic,
} from '@unlearnjs/core';
import { loraOptionsSchema } from '@unlearnjs/lora';
import type { Command } from 'commander';
import { CLI_DATA_OPTION_NAMES, CLI_SPLIT_NAMES, type CliIo, type CommonOpts, addCommonOptions } from '../common-options.js';
import { evaluateModel } from '../evaluate-model.js';
import { type ForgetSetFlags, forgetSetRecord } from '../forget-set.js';
import {
  REFERENCE_DEFAULTS,
  acceptReferenceFlags,
  finiteNumber,
  integer,
  noteUnusedReferenceFlags,
  resolveMethod,
} from '../reference-args.js';
import { createRunContext, loadSplits, modelFromCheckpoint, resolveCheckpoint } from '../run-context.js';
import { optionHelp } from '../schema-help.js';
import { UNLEARNER_FLAG_OPTIONS, unlearnerOptionsFromFlags } from '../unlearner-flags.js';
import { checkDataset, validateOptions } from './checks.js';

/** Option name → the flag of `unlearn forget` that sets it. */
const FORGET_FLAG_OF: Record<string, string> = {
  lr: '--unlearn-lr',
  epochs: '--unlearn-epochs',
  alpha: '--alpha',
  batchSize: '--batch-size',
  momentum: '--momentum',
  weightDecay: '--weight-decay',
  warmupEpochs: '--warmup',
  milestones: '--decreasing-lr',
  augment: '--no-aug',
};

/**
 * Add the forget-set flags of the reference (`--class-to-replace`, `--num-indexes-to-replace`)
 * with its defaults: class 0, every image of it.
 * @param cmd - `forget` or `eval`
 * @returns the same command
 */
export function addForgetSetOptions(cmd: Command): Command {
  return cmd
    .option(
      '--class-to-replace <c>',
      `class to forget, 0-9, or -1 for random forgetting (default ${REFERENCE_DEFAULTS.classToReplace}, as the reference)`,
      integer('--class-to-replace', -1, 9),
      REFERENCE_DEFAULTS.classToReplace,
    )
    .option(
      '--num-indexes-to-replace <n>',
      'how many images to forget: of the class (default: all of it), or at random with --class-to-replace -1 (default 10%)',
      integer('--num-indexes-to-replace', 1),
    );
}

/**
 * The splits of `forget` and `eval`: CIFAR-10 from the data flags, the forget set from `flags`,
 * progress through the run's reporter, errors naming the CLI's flags.
 * @param container - the run's container
 * @param opts - the parsed common flags
 * @param flags - what draws the forget set
 * @returns the splits
 */
export function loadForgetSplits(container: DependencyContainer, opts: CommonOpts, flags: ForgetSetFlags): Promise<DataSplits> {
  return loadSplits({
    progress: resolve(container, PROGRESS),
    ...flags,
    dir: opts.data,
    download: opts.download,
    quiet: opts.quiet,
    optionNames: CLI_DATA_OPTION_NAMES,
    splitNames: CLI_SPLIT_NAMES,
  });
}

/**
 * `unlearn forget`: the reference's `main_forget.py`.
 * @param program - the root program
 * @param io - output streams
 */
export function addForgetCommand(program: Command, io: CliIo): void {
  const cmd = addCommonOptions(
    addForgetSetOptions(
      program
        .command('forget')
        .description('Unlearn a forget set from a (pruned) checkpoint and evaluate UA, RA, TA, MIA-efficacy and run time.')
        .requiredOption('--mask <checkpoint>', 'the model to unlearn from, e.g. out/1model_SA_best (a pruning round)')
        .option(
          '--unlearn <method>',
          'GA | FT | RL | fisher_new | wfisher | retrain | FT_prune | SalUn | SCRUB, or a plugin id (ga, ft, rl, fisher, influence, retrain, l1-sparse, salun, scrub)',
          REFERENCE_DEFAULTS.unlearn,
        )
        .option('--arch <name>', 'the architecture; must match the checkpoint (read from it)'),
    ),
    REFERENCE_DEFAULTS.seed,
  );
  // Numbers only: each method's schema owns the ranges, checked (naming the flag) before any data loads.
  for (const [flags, description] of UNLEARNER_FLAG_OPTIONS) {
    if (/<(n|lr|a|m|w)>$/.test(flags)) cmd.option(flags, description, finiteNumber(flags.split(' ')[0]));
    else cmd.option(flags, description);
  }
  cmd
    .option('--lora', 'train LoRA adapters instead of the whole model (iterative methods), merged back with the mask kept')
    .option('--lora-rank <r>', optionHelp('LoRA rank', loraOptionsSchema, 'rank', { withDefault: false }), finiteNumber('--lora-rank'), 8)
    .option('--save-dir <dir>', 'output folder', 'out');
  acceptReferenceFlags(cmd).action(async (opts) => {
    const say = (line: string) => io.stderr(`${line}\n`);
    checkDataset(opts.dataset);
    noteUnusedReferenceFlags(cmd, opts, say);
    const { container, logger } = await createRunContext({ ...opts, plugins: opts.plugin, stream: { write: io.stderr } });
    const known = listPlugins(container, 'unlearner').map((p) => p.name);
    const method = resolveMethod(opts.unlearn, known);
    const unlearner = createPlugin(container, 'unlearner', method);
    const options = unlearnerOptionsFromFlags(method, unlearner.optionsSchema, cmd, opts, say);
    validateOptions(unlearner.optionsSchema, options, `unlearner "${method}"`, FORGET_FLAG_OF);
    const lora = opts.lora ? { name: 'lora', options: { rank: opts.loraRank } } : undefined;
    if (lora)
      validateOptions(createPlugin(container, 'adapter', 'lora').optionsSchema, lora.options, 'adapter "lora"', { rank: '--lora-rank' });
    const file = await resolveCheckpoint(opts.mask);
    const { model, meta } = await modelFromCheckpoint(container, file);
    try {
      if (opts.arch !== undefined && opts.arch !== meta.arch) {
        throw new UnlearnError(
          'UNLEARN_CHECKPOINT_INCOMPATIBLE',
          `--arch ${opts.arch} does not match the checkpoint ${file}, which holds a ${String(meta.arch)}; leave --arch out or pass ${String(meta.arch)}.`,
          { details: { file, arch: meta.arch, flag: opts.arch } },
        );
      }
      const flags = {
        seed: opts.seed,
        classToForget: opts.classToReplace,
        numToForget: opts.numIndexesToReplace,
        trainLimit: opts.trainLimit,
        testLimit: opts.testLimit,
      };
      const splits = await loadForgetSplits(container, opts, flags);
      logger.info(
        `forget set: ${splits.forget.indices.length} images (${splits.classToForget >= 0 ? `class ${splits.classToForget}` : 'random'}), retain ${splits.retain.indices.length}`,
      );
      const report = await runUnlearner(container, method, {
        model,
        data: { forget: splits.forget, retain: splits.retain, validation: splits.validation, classToForget: splits.classToForget },
        options,
        adapter: lora,
      });
      const out = path.join(opts.saveDir, `${method}${opts.lora ? '-lora' : ''}`);
      const forgetSet = forgetSetRecord(splits, flags);
      await saveModel(path.join(out, 'unlearned.ckpt'), model, {
        method,
        unlearnedFrom: file,
        forgetSet,
        report: JSON.parse(JSON.stringify(report)),
      });
      const { metrics, heldOut } = await evaluateModel(container, model, splits);
      const all = { ...metrics, RTE: report.seconds / 60 };
      await writeFileAtomic(
        path.join(out, 'metrics.json'),
        `${JSON.stringify({ method, options, metrics: all, heldOut, forgetSet, report }, null, 2)}\n`,
      );
      logger.info(`saved ${path.join(out, 'unlearned.ckpt')}`);
      io.stdout(`${JSON.stringify({ method, metrics: all, heldOut })}\n`);
    } finally {
      model.dispose();
    }
  });
}
