import { UnlearnError, isUnlearnError, parseOptions } from '@unlearnjs/core';

/**
 * Refuse a data set other than CIFAR-10.
 * @param dataset - the `--dataset` value
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS`
 */
export function checkDataset(dataset: string | undefined): void {
  if (dataset && dataset !== 'cifar10') {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `--dataset ${dataset} is not supported; only cifar10 is.`, {
      details: { flag: '--dataset', value: dataset },
    });
  }
}

/**
 * Validate a plugin's options with its own schema, before any data loads, and speak CLI in the
 * error: each bad option is named by the flag that set it.
 *
 * @param schema - the plugin's schema (the one owner of every range and default)
 * @param options - the options the flags made
 * @param where - e.g. `pruner "omp"`
 * @param flagOf - option name → flag, e.g. `{ rate: '--rate' }`
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming the flags
 */
export function validateOptions(
  schema: OptionsSchemaLike,
  options: Record<string, unknown>,
  where: string,
  flagOf: Record<string, string>,
): void {
  try {
    parseOptions(schema, options, where);
  } catch (err) {
    if (!isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')) throw err;
    const issues = (err.details.issues ?? []) as Array<{ path: string; message: string; given?: unknown }>;
    const text = issues
      .map((i) => {
        const key = i.path.split('.')[0];
        const flag = flagOf[key];
        return `${flag ?? i.path}: ${i.message}${i.given === undefined ? '' : ` (got ${JSON.stringify(i.given)})`}`;
      })
      .join('; ');
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Invalid value for ${where}: ${text}.`, { details: err.details, cause: err });
  }
}

/** What {@link validateOptions} needs of a schema: any plugin's `optionsSchema`. */
export type OptionsSchemaLike = Parameters<typeof parseOptions>[0];
