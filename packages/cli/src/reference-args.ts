import { UnlearnError } from '@unlearnjs/core';

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
});

/** Flags of the reference scripts that have no meaning here; accepted and ignored with a note. */
export const IGNORED_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  '--num-workers': 'data loading runs in the main thread; the flag is ignored',
  '--gpu': 'the device is the tfjs backend (--backend); the flag is ignored',
  '--print-freq': 'progress is shown by the progress bar; the flag is ignored',
  '--workers': 'data loading runs in the main thread; the flag is ignored',
});

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
