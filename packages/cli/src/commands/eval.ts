import type { Command } from 'commander';
import { type CliIo, addCommonOptions } from '../common-options.js';
import { evaluateModel } from '../evaluate-model.js';
import { type ForgetSetFlags, checkSameForgetSet, forgetSetRecord, recordedForgetSet } from '../forget-set.js';
import { REFERENCE_DEFAULTS, acceptReferenceFlags, noteUnusedReferenceFlags } from '../reference-args.js';
import { createRunContext, modelFromCheckpoint, resolveCheckpoint } from '../run-context.js';
import { checkDataset } from './checks.js';
import { addForgetSetOptions, loadForgetSplits } from './forget.js';

/**
 * `unlearn eval`: UA, RA, TA and MIA of a checkpoint on a forget set.
 * @param program - the root program
 * @param io - output streams
 */
export function addEvalCommand(program: Command, io: CliIo): void {
  const cmd = addCommonOptions(
    addForgetSetOptions(
      program
        .command('eval')
        .description(
          'Evaluate a checkpoint: UA, RA, TA and MIA-efficacy on a forget set. For a model written by `unlearn forget`, the forget set it was unlearned on is the default, and flags that would draw another one are refused.',
        )
        .requiredOption('--checkpoint <file>', 'model checkpoint'),
    ),
    REFERENCE_DEFAULTS.seed,
  );
  acceptReferenceFlags(cmd).action(async (opts) => {
    const say = (line: string) => io.stderr(`${line}\n`);
    checkDataset(opts.dataset);
    noteUnusedReferenceFlags(cmd, opts, say);
    const { container } = await createRunContext({ ...opts, plugins: opts.plugin, stream: { write: io.stderr } });
    const file = await resolveCheckpoint(opts.checkpoint);
    const { model, meta } = await modelFromCheckpoint(container, file);
    try {
      // A flag left out takes the recorded value: `unlearn eval --checkpoint X` measures the
      // set X forgot. A flag given explicitly must draw that same set (checked below).
      const recorded = recordedForgetSet(meta);
      const pick = <T>(attr: string, value: T, fromRecord: T | null | undefined): T =>
        cmd.getOptionValueSource(attr) === 'cli' || !recorded ? value : ((fromRecord ?? undefined) as T);
      const flags: ForgetSetFlags = {
        seed: pick('seed', opts.seed, recorded?.seed),
        classToForget: pick('classToReplace', opts.classToReplace, recorded?.classToForget),
        numToForget: pick('numIndexesToReplace', opts.numIndexesToReplace, recorded?.numToForget),
        trainLimit: pick('trainLimit', opts.trainLimit, recorded?.trainLimit),
        testLimit: pick('testLimit', opts.testLimit, recorded?.testLimit),
      };
      const splits = await loadForgetSplits(container, opts, flags);
      const forgetSet = forgetSetRecord(splits, flags);
      if (recorded) checkSameForgetSet(recorded, forgetSet, file);
      const { metrics, heldOut } = await evaluateModel(container, model, splits, { allMiaMetrics: true });
      io.stdout(`${JSON.stringify({ checkpoint: file, metrics, heldOut, forgetSet })}\n`);
    } finally {
      model.dispose();
    }
  });
}
