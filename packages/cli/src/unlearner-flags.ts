import { trainOptionsSchema } from '@unlearnjs/core';
import type { Command } from 'commander';
import { REFERENCE_DEFAULTS } from './reference-args.js';
import { optionHelp, schemaKeys } from './schema-help.js';

/** A reference flag that sets one option of an unlearner, when the unlearner has that option. */
interface Knob {
  /** Commander attribute of the flag. */
  attr: string;
  /** The flag as the user types it. */
  flag: string;
  /** The unlearner option it sets. */
  key: string;
  /** The reference's default, for the note when a method's own default differs. */
  reference?: number;
  /** Turn the parsed flag into the option value. */
  value?: (v: unknown) => unknown;
}

const KNOBS: readonly Knob[] = [
  { attr: 'unlearnLr', flag: '--unlearn-lr', key: 'lr', reference: REFERENCE_DEFAULTS.unlearnLr },
  { attr: 'unlearnEpochs', flag: '--unlearn-epochs', key: 'epochs', reference: REFERENCE_DEFAULTS.unlearnEpochs },
  { attr: 'alpha', flag: '--alpha', key: 'alpha', reference: REFERENCE_DEFAULTS.alpha },
  { attr: 'batchSize', flag: '--batch-size', key: 'batchSize', reference: REFERENCE_DEFAULTS.batchSize },
  { attr: 'momentum', flag: '--momentum', key: 'momentum' },
  { attr: 'weightDecay', flag: '--weight-decay', key: 'weightDecay' },
  { attr: 'warmup', flag: '--warmup', key: 'warmupEpochs' },
  {
    attr: 'decreasingLr',
    flag: '--decreasing-lr',
    key: 'milestones',
    value: (v) =>
      String(v)
        .split(',')
        .map((s) => Number(s.trim())),
  },
  { attr: 'aug', flag: '--no-aug', key: 'augment', value: () => false },
];

/**
 * Turn the reference's unlearning flags into an unlearner's options: a flag sets the option the
 * method has (`--unlearn-lr` → `lr`, `--alpha` → `alpha`, `--no-aug` → `augment: false`, …);
 * a flag the method has no option for is accepted with one `note:` line (a reference sweep
 * passes the same flags to every method); and where a flag is left out and the method's own
 * default differs from the reference's default, a `note:` says which value runs.
 *
 * @param method - the unlearner id
 * @param schema - its options schema
 * @param cmd - the command (to tell given flags from defaults)
 * @param opts - the parsed flags
 * @param say - where notes go
 * @returns the options to pass (validate them with the schema before loading data)
 */
export function unlearnerOptionsFromFlags(
  method: string,
  schema: { safeParse(v: unknown): { success: boolean; data?: unknown } },
  cmd: Command,
  opts: Record<string, unknown>,
  say: (line: string) => void,
): Record<string, unknown> {
  const keys = schemaKeys(schema);
  const defaults = (schema.safeParse({}).data ?? {}) as Record<string, unknown>;
  const options: Record<string, unknown> = {};
  for (const k of KNOBS) {
    const given = cmd.getOptionValueSource(k.attr) === 'cli';
    const has = keys === undefined || keys.has(k.key);
    if (given) {
      if (has) options[k.key] = k.value ? k.value(opts[k.attr]) : opts[k.attr];
      else say(`note: ${k.flag}: the ${method} method has no "${k.key}" option; the flag is unused`);
    } else if (has && k.reference !== undefined && defaults[k.key] !== undefined && defaults[k.key] !== k.reference) {
      say(
        `note: ${k.flag} not given: ${method} uses its own default ${k.key} ${defaults[k.key]} (the reference's default is ${k.reference})`,
      );
    }
  }
  if (options.milestones !== undefined && keys?.has('schedule')) options.schedule = 'multistep';
  return options;
}

/**
 * The reference flags {@link unlearnerOptionsFromFlags} reads, as `[flags, description]` for
 * `forget`. Ranges and defaults are each method's schema's (checked before any data loads); the
 * SGD defaults shown are those of core's `train`, which the iterative methods share.
 */
export const UNLEARNER_FLAG_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['--unlearn-lr <lr>', "learning rate of iterative methods (default: the method's own; the reference's is 0.1)"],
  ['--unlearn-epochs <n>', "epochs of iterative methods (default: the method's own; the reference's is 10)"],
  ['--alpha <a>', "strength: Fisher noise scale, influence step, or l1 penalty (default: the method's own)"],
  ['--batch-size <n>', "batch size (default: the method's own)"],
  ['--momentum <m>', optionHelp('SGD momentum of iterative methods', trainOptionsSchema, 'momentum')],
  ['--weight-decay <w>', optionHelp('SGD weight decay of iterative methods', trainOptionsSchema, 'weightDecay')],
  ['--warmup <n>', 'linear warm-up epochs, for methods that have them'],
  ['--decreasing-lr <epochs>', 'lr ×0.1 at these epochs, e.g. 91,136 (retrain)'],
  ['--no-aug', 'no random crop / flip while unlearning'],
];
