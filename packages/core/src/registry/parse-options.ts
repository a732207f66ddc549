import type { z } from 'zod';
import { UnlearnError } from '../errors/unlearn-error.js';

/**
 * Validate and default options at a boundary with a zod schema.
 *
 * @param schema - the plugin's schema
 * @param input - what the user passed
 * @param where - who is validating, for the message (e.g. `unlearner "ga"`)
 * @returns the parsed options (defaults filled in)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming each bad field, the allowed range and the value given
 */
export function parseOptions<O>(schema: z.ZodType<O, any>, input: unknown, where: string): O {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => {
    const path = i.path.length > 0 ? i.path.join('.') : '(options)';
    const given = valueAt(input, i.path);
    return { path, message: i.message, given };
  });
  const text = issues.map((i) => `${i.path}: ${i.message}${i.given === undefined ? '' : ` (got ${JSON.stringify(i.given)})`}`).join('; ');
  throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Invalid options for ${where}: ${text}.`, {
    details: { where, issues },
  });
}

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}
