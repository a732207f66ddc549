import { type UnlearnError, type UnlearnErrorCode, isUnlearnError } from '@unlearnjs/core';
import { expect } from 'vitest';

/**
 * Assert that `fn` throws (or rejects with) an {@link UnlearnError} with the given code.
 *
 * @param fn - the call expected to fail (sync or async)
 * @param code - the expected stable code, e.g. `UNLEARN_INVALID_OPTIONS`
 * @returns the error, for further checks on its message or `details`
 * @throws the vitest assertion error when `fn` succeeds, throws something that is not an
 *   `UnlearnError`, or throws one with another code (its message is shown)
 * @example
 * ```ts
 * const err = await expectUnlearnError(() => runUnlearner(c, 'ga', { model, data, options: { lr: -1 } }), 'UNLEARN_INVALID_OPTIONS');
 * expect(err.message).toContain('lr');
 * ```
 */
export async function expectUnlearnError(fn: () => unknown, code: UnlearnErrorCode): Promise<UnlearnError> {
  let thrown: unknown;
  let threw = false;
  try {
    await fn();
  } catch (err) {
    threw = true;
    thrown = err;
  }
  expect(threw, `expected an UnlearnError ${code}, but the call succeeded`).toBe(true);
  const description = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
  // By shape, not instanceof: a plugin with its own copy of core throws its own UnlearnError class.
  expect(isUnlearnError(thrown), `expected an UnlearnError ${code}, got ${description}`).toBe(true);
  const err = thrown as UnlearnError;
  expect(err.code, `expected UnlearnError ${code}, got ${err.code}: ${err.message}`).toBe(code);
  return err;
}
