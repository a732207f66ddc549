import { UnlearnError } from '@unlearnjs/core';
import { type Command, InvalidArgumentError, Option } from 'commander';

/**
 * The reference code's `--unlearn` names and our unlearner ids.
 * (`FT_prune` is the reference's l1-sparse fine-tuning.)
 */
export const REFERENCE_METHODS: Readonly<Record<string, string>> = Object.freeze({
  GA: 'ga',
  FT: 'ft',
  RL: 'rl',
  fisher_new: 'fisher',
  fisher: 'fisher',
  wfisher: 'influence',
  retrain: 'retrain',
  FT_prune: 'l1-sparse',
  FT_l1: 'l1-sparse',
  // Beyond the sparsity paper: SalUn (OPTML-Group/Unlearn-Saliency runs it as `--unlearn RL
  // --mask_path with_0.5.pt`) and SCRUB (meghdadk/SCRUB).
  SalUn: 'salun',
  salun: 'salun',
  SCRUB: 'scrub',
});

/**
 * The defaults of the reference's `arg_parser.py` (OPTML-Group/Unlearn-Sparse) for the flags
 * whose meaning is the same here. The commands use these defaults, or say in a `note:` line
 * where their own default differs (e.g. each unlearner's learning rate).
 */
export const REFERENCE_DEFAULTS = Object.freeze({
  seed: 2,
  classToReplace: 0,
  unlearn: 'retrain',
  unlearnLr: 0.1,
  unlearnEpochs: 10,
  alpha: 0.2,
  batchSize: 256,
  lr: 0.1,
  epochs: 182,
  pruningTimes: 1,
  pruneType: 'rewind_lt',
  rewindEpoch: 8,
});

/** A flag of the reference's `arg_parser.py`, and how a command that does not use it treats it. */
export interface ReferenceFlag {
  /** `--kebab-case` flag, with `<value>` when it takes one. */
  flags: string;
  /** Why it is not used (the note printed when given). */
  unused: string;
  /** Refuse the flag instead (its value would run a different experiment). */
  refuse?: (value: unknown) => string | undefined;
}

/**
 * Every flag of the reference's `arg_parser.py`. Each command defines the ones it uses as its
 * own options; the rest are accepted (a reference sweep passes the same flags to every method)
 * and reported in one `note:` line each, or refused when their value would silently run a
 * different experiment than the reference's.
 */
export const REFERENCE_FLAGS: readonly ReferenceFlag[] = [
  { flags: '--data <dir>', unused: 'this command reads no data' },
  {
    flags: '--dataset <name>',
    unused: 'only cifar10 is supported',
    refuse: (v) => (v === 'cifar10' ? undefined : 'only cifar10 is supported'),
  },
  {
    flags: '--input-size <n>',
    unused: 'CIFAR-10 images are 32×32',
    refuse: (v) => (Number(v) === 32 ? undefined : 'CIFAR-10 images are 32×32'),
  },
  { flags: '--data-dir <dir>', unused: 'Tiny-ImageNet is not supported; the flag is unused' },
  { flags: '--num-workers <n>', unused: 'data loading runs in the main thread; the flag is ignored' },
  {
    flags: '--num-classes <n>',
    unused: 'CIFAR-10 has 10 classes',
    refuse: (v) => (Number(v) === 10 ? undefined : 'CIFAR-10 has 10 classes'),
  },
  { flags: '--arch <name>', unused: 'the architecture is read from the checkpoint' },
  { flags: '--imagenet-arch', unused: 'the CIFAR variants are used', refuse: () => 'only the CIFAR (32×32) architectures are supported' },
  { flags: '--seed <n>', unused: 'this command draws no random numbers' },
  { flags: '--train-seed <n>', unused: 'one seed (--seed) drives every random choice here; the flag is unused' },
  { flags: '--gpu <n>', unused: 'the device is the tfjs backend (--backend); the flag is ignored' },
  { flags: '--workers <n>', unused: 'data loading runs in the main thread; the flag is ignored' },
  { flags: '--resume', unused: 'runs resume from their checkpoints by themselves; the flag is unused' },
  { flags: '--checkpoint <file>', unused: 'the flag is unused by this command' },
  { flags: '--save-dir <dir>', unused: 'this command writes no files' },
  { flags: '--mask <file>', unused: 'the flag is unused by this command' },
  { flags: '--batch-size <n>', unused: 'the flag is unused by this command' },
  { flags: '--lr <lr>', unused: 'the training learning rate is unused here (unlearning uses --unlearn-lr)' },
  { flags: '--momentum <m>', unused: 'the flag is unused by this command' },
  { flags: '--weight-decay <w>', unused: 'the flag is unused by this command' },
  { flags: '--epochs <n>', unused: 'the training epochs are unused here (unlearning uses --unlearn-epochs)' },
  { flags: '--warmup <n>', unused: 'the flag is unused by this command' },
  { flags: '--print-freq <n>', unused: 'progress is shown by the progress bar; the flag is ignored' },
  { flags: '--decreasing-lr <epochs>', unused: 'the flag is unused by this command' },
  { flags: '--no-aug', unused: 'the flag is unused by this command' },
  { flags: '--prune <name>', unused: 'the pruning method is --prune-type; the flag is unused' },
  { flags: '--pruning-times <n>', unused: 'the flag is unused by this command' },
  { flags: '--rate <r>', unused: 'the flag is unused by this command' },
  { flags: '--prune-type <type>', unused: 'the flag is unused by this command' },
  {
    flags: '--random-prune',
    unused: 'random pruning',
    refuse: () => 'random pruning is not supported by the CLI (use the `random` pruner from the library)',
  },
  { flags: '--rewind-epoch <n>', unused: 'the flag is unused by this command' },
  { flags: '--unlearn <method>', unused: 'the flag is unused by this command' },
  { flags: '--unlearn-lr <lr>', unused: 'the flag is unused by this command' },
  { flags: '--unlearn-epochs <n>', unused: 'the flag is unused by this command' },
  { flags: '--num-indexes-to-replace <n>', unused: 'the flag is unused by this command' },
  { flags: '--class-to-replace <c>', unused: 'the flag is unused by this command' },
  {
    flags: '--indexes-to-replace <list>',
    unused: 'explicit forget indices',
    refuse: () => 'explicit forget indices are not supported; use --class-to-replace and --num-indexes-to-replace',
  },
  { flags: '--alpha <a>', unused: 'the flag is unused by this command' },
  { flags: '--attack <name>', unused: 'backdoor attacks are not part of unlearnjs; the flag is unused' },
  { flags: '--trigger-size <n>', unused: 'backdoor attacks are not part of unlearnjs; the flag is unused' },
];

/** The commander attribute name of a flag (`--no-aug` → `aug`, `--num-workers` → `numWorkers`). */
function attributeOf(flags: string): string {
  return new Option(flags).attributeName();
}

/**
 * Accept every reference flag that `cmd` does not define itself, hidden from `--help`, so that a
 * reference sweep's command line parses. Call {@link noteUnusedReferenceFlags} in the action.
 *
 * @param cmd - the command, after its own options are defined
 * @returns the same command
 */
export function acceptReferenceFlags(cmd: Command): Command {
  const own = new Set(cmd.options.map((o) => o.attributeName()));
  for (const f of REFERENCE_FLAGS) {
    if (own.has(attributeOf(f.flags))) continue;
    cmd.addOption(new Option(f.flags, f.unused).hideHelp());
  }
  return cmd;
}

/**
 * One `note:` line for each reference flag that was given but is not one of `cmd`'s own, and a
 * usage error for the ones whose value would run a different experiment.
 *
 * @param cmd - the command (its own options are not reported)
 * @param opts - the parsed options
 * @param say - where notes go
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a refused flag
 */
export function noteUnusedReferenceFlags(cmd: Command, opts: Record<string, unknown>, say: (line: string) => void): void {
  for (const f of REFERENCE_FLAGS) {
    const opt = cmd.options.find((o) => o.attributeName() === attributeOf(f.flags));
    if (!opt?.hidden) continue; // one of the command's own options
    const key = attributeOf(f.flags);
    if (cmd.getOptionValueSource(key) !== 'cli') continue;
    const why = f.refuse?.(opts[key]);
    if (why) {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `${opt.long} ${JSON.stringify(opts[key])}: ${why}.`, {
        details: { flag: opt.long, value: opts[key] },
      });
    }
    say(`note: ${opt.long}: ${f.unused}`);
  }
}

/**
 * Rewrite reference-style `--snake_case` flags to `--kebab-case` (values untouched), so the
 * PyTorch code's commands run as written.
 *
 * @param argv - arguments after the node binary and script
 * @returns rewritten arguments
 */
export function normaliseFlags(argv: readonly string[]): string[] {
  return argv.map((a) => {
    if (!a.startsWith('--')) return a;
    const [flag, ...rest] = a.split('=');
    const kebab = flag.replace(/_/g, '-');
    return rest.length ? `${kebab}=${rest.join('=')}` : kebab;
  });
}

/**
 * Map a reference `--unlearn` value (or one of our ids) to an unlearner id.
 * @param name - e.g. `FT`, `wfisher`, `ga`
 * @param known - registered unlearner ids (our ids pass through)
 * @throws UnlearnError `UNLEARN_UNKNOWN_PLUGIN` listing the accepted names
 */
export function resolveMethod(name: string, known: readonly string[]): string {
  if (known.includes(name)) return name;
  const mapped = REFERENCE_METHODS[name];
  if (mapped && known.includes(mapped)) return mapped;
  throw new UnlearnError(
    'UNLEARN_UNKNOWN_PLUGIN',
    `Unknown unlearning method "${name}". Use one of: ${[...Object.keys(REFERENCE_METHODS), ...known].join(', ')}.`,
    { details: { method: name, known } },
  );
}

/**
 * Parse a number for commander: any finite number. Ranges are not checked here: each option's
 * range lives in the plugin's schema, which the command validates before loading any data.
 * @param flag - the flag, for the message
 * @returns the parser
 */
export function finiteNumber(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number, got "${v}".`);
    return n;
  };
}

/**
 * Parse an integer for commander within the range that belongs to the CLI itself (CLI-only
 * settings such as `--jobs`, or data sizes checked again by `makeSplits`).
 * @param flag - the flag, for the message
 * @param min - smallest allowed
 * @param max - largest allowed
 * @returns the parser
 */
export function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer in [${min}, ${max}], got "${v}".`);
    }
    return n;
  };
}
