import { isUnlearnError } from '@unlearnjs/core';
import type { Cell, CellFailure } from '../types.js';

/**
 * Runs one cell to completion: reads the artifacts of the cells it needs from the store, computes,
 * and puts its own artifact (`cellArtifactKey(cell)`) into the store. Both runners call the same
 * executor, so a grid gives the same numbers whichever runs it. The CLI's executor starts one
 * `unlearn cell` process per cell (a fresh process: nothing carries over between cells, and the
 * runner's event loop stays free for its lock renewals).
 *
 * @throws an UnlearnError whose code says why; {@link isPermanentFailure} decides whether a
 *   retry could help
 */
export type CellExecutor = (cell: Cell, options: { signal?: AbortSignal }) => Promise<void>;

/** Attempts per cell (a crashed process, a lost machine) before it is marked failed, on both runners. */
export const CELL_ATTEMPTS = 3;

/**
 * Codes that no retry can fix: the cell, its options or its inputs are wrong, not the machine.
 * Everything else (a crashed or killed process, out of memory, a lost connection) is retried.
 */
const PERMANENT_CODES = new Set([
  'UNLEARN_INVALID_OPTIONS',
  'UNLEARN_INVALID_JOB',
  'UNLEARN_UNKNOWN_PLUGIN',
  'UNLEARN_INCOMPATIBLE_API',
  'UNLEARN_EMPTY_DATA',
  'UNLEARN_DATA_MISSING',
  'UNLEARN_ARTIFACT_TOO_LARGE',
  'UNLEARN_FORGET_SET_MISMATCH',
]);

/**
 * Whether an error of a cell is permanent (fail now) rather than worth another attempt.
 * @param err - what the executor threw
 */
export function isPermanentFailure(err: unknown): boolean {
  return isUnlearnError(err) && PERMANENT_CODES.has(err.code);
}

/**
 * The failure record of a cell, for the report and the status.
 * @param id - the cell id
 * @param err - what it threw
 * @param attempts - attempts made
 */
export function cellFailure(id: string, err: unknown, attempts: number): CellFailure {
  if (isUnlearnError(err)) return { id, code: err.code, message: err.message, attempts };
  return { id, code: 'UNLEARN_UNKNOWN', message: err instanceof Error ? err.message : String(err), attempts };
}

/**
 * Encode a failure as one line (BullMQ keeps a failed job's reason as a string): `CODE: message`.
 * @param err - the error
 */
export function failureReason(err: unknown): string {
  const f = cellFailure('', err, 0);
  return `${f.code}: ${f.message}`;
}

/**
 * Decode {@link failureReason}'s line.
 * @param reason - `CODE: message`, or any text
 */
export function parseFailureReason(reason: string): { code: string; message: string } {
  const m = /^(UNLEARN_[A-Z_]+): ([\s\S]*)$/.exec(reason);
  return m ? { code: m[1], message: m[2] } : { code: 'UNLEARN_UNKNOWN', message: reason };
}
