import { UnlearnError } from '@unlearnjs/core';

/** The grid flags of the CLI, as strings (comma-separated lists) or numbers. */
export interface GridFlags {
  /** `--name my-grid` */
  name?: string;
  /** `--preset quick` */
  preset?: string;
  /** `--models resnet18,vit` */
  models?: string;
  /** `--seeds 1,2,3` */
  seeds?: string;
  /** `--scenarios class:0,class:0:100,random:450` */
  scenarios?: string;
  /** `--sparsities 0,0.95` */
  sparsities?: string;
  /** `--methods retrain,ft,ft+lora` */
  methods?: string;
  /** `--train-limit 500` */
  trainLimit?: string | number;
  /** `--test-limit 200` */
  testLimit?: string | number;
}

const INTEGER = /^\d+$/;
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Turn the CLI's grid flags into a raw grid spec for {@link parseGridSpec}: comma-separated
 * lists become arrays, numbers become numbers, and flags not given are left out (so the spec's
 * defaults apply).
 *
 * @remarks Only the syntax is checked here (a number where a number is due, no empty list
 * item); the rules (unique seeds, sparsity in [0, 1), ...) are the spec schema's. Parse the
 * result with `keyStyle: 'flag'` so that those errors name the flag too:
 * `parseGridSpec(gridSpecFromFlags(flags), { source: 'the command line', keyStyle: 'flag' })`.
 * @param flags - the flag values
 * @returns the raw spec
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming the flag and the value (`--seeds: "x"
 *   is not a non-negative integer`)
 * @example
 * ```ts
 * gridSpecFromFlags({ seeds: '1,2,3', scenarios: 'class:0,random:300', methods: 'retrain,ft,ft+lora' });
 * // { seeds: [1, 2, 3], scenarios: ['class:0', 'random:300'], methods: ['retrain', 'ft', 'ft+lora'] }
 * ```
 */
export function gridSpecFromFlags(flags: GridFlags): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  if (flags.name !== undefined) raw.name = flags.name.trim();
  if (flags.preset !== undefined) raw.preset = flags.preset.trim();
  if (flags.models !== undefined) raw.models = list('--models', flags.models);
  if (flags.seeds !== undefined)
    raw.seeds = list('--seeds', flags.seeds).map((v) => number('--seeds', v, INTEGER, 'a non-negative integer'));
  if (flags.scenarios !== undefined) raw.scenarios = list('--scenarios', flags.scenarios);
  if (flags.sparsities !== undefined)
    raw.sparsities = list('--sparsities', flags.sparsities).map((v) => number('--sparsities', v, DECIMAL, 'a number in [0, 1)'));
  if (flags.methods !== undefined) raw.methods = list('--methods', flags.methods);
  const data: Record<string, number> = {};
  if (flags.trainLimit !== undefined)
    data.trainLimit = number('--train-limit', String(flags.trainLimit).trim(), INTEGER, 'a positive integer');
  if (flags.testLimit !== undefined) data.testLimit = number('--test-limit', String(flags.testLimit).trim(), INTEGER, 'a positive integer');
  if (Object.keys(data).length > 0) raw.data = data;
  return raw;
}

function list(flag: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  const empty = items.indexOf('');
  if (empty >= 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `${flag}: value ${empty + 1} of ${JSON.stringify(value)} is empty; give a comma-separated list without empty items.`,
      { details: { key: flag, source: 'flags' } },
    );
  }
  return items;
}

function number(flag: string, text: string, pattern: RegExp, what: string): number {
  if (!pattern.test(text)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `${flag}: ${JSON.stringify(text)} is not ${what}.`, {
      details: { key: flag, source: 'flags' },
    });
  }
  return Number(text);
}
