/**
 * Stable error codes. Callers branch on `err.code`, never on the message text.
 *
 * - `UNLEARN_EMPTY_DATA`: a method got an empty set it needs (GA with no forget image, FT or
 *   retrain with no retain image) and would otherwise report success having done nothing.
 * - `UNLEARN_NON_FINITE_WEIGHTS`: a checkpoint or model holds a NaN/Inf weight.
 * - `UNLEARN_NON_FINITE_SCORE`: a pruning score is NaN/Inf (not a training loss).
 * - `UNLEARN_WORKER_CRASHED`: a worker process died or exited non-zero.
 * - `UNLEARN_FORGET_SET_MISMATCH`: an evaluation would measure a different forget set than
 *   the one the model was unlearned on.
 * - `UNLEARN_ARTIFACT_MISSING` / `UNLEARN_ARTIFACT_CORRUPT`: a grid artifact (checkpoint, row)
 *   is not in the store, or its bytes do not match its recorded size and SHA-256.
 * - `UNLEARN_ARTIFACT_TOO_LARGE`: an artifact is larger than the store's size cap.
 * - `UNLEARN_INVALID_JOB`: a grid job's payload is not a valid cell, or names a plugin the
 *   worker was not started with.
 * - `UNLEARN_QUEUE_UNAVAILABLE`: the grid's Redis cannot be reached or refused the login.
 *
 * @remarks New codes may be added in minor releases; existing ones never change meaning.
 */
export type UnlearnErrorCode =
  | 'UNLEARN_INVALID_OPTIONS'
  | 'UNLEARN_UNKNOWN_PLUGIN'
  | 'UNLEARN_DUPLICATE_PLUGIN'
  | 'UNLEARN_INCOMPATIBLE_API'
  | 'UNLEARN_BACKEND_UNAVAILABLE'
  | 'UNLEARN_DATA_MISSING'
  | 'UNLEARN_DATA_CORRUPT'
  | 'UNLEARN_EMPTY_DATA'
  | 'UNLEARN_DOWNLOAD_FAILED'
  | 'UNLEARN_CHECKSUM_MISMATCH'
  | 'UNLEARN_CHECKPOINT_CORRUPT'
  | 'UNLEARN_CHECKPOINT_INCOMPATIBLE'
  | 'UNLEARN_CHECKPOINT_MISSING'
  | 'UNLEARN_NON_FINITE_WEIGHTS'
  | 'UNLEARN_MASK_MISMATCH'
  | 'UNLEARN_NON_FINITE_LOSS'
  | 'UNLEARN_NON_FINITE_SCORE'
  | 'UNLEARN_WORKER_CRASHED'
  | 'UNLEARN_FORGET_SET_MISMATCH'
  | 'UNLEARN_ARTIFACT_MISSING'
  | 'UNLEARN_ARTIFACT_CORRUPT'
  | 'UNLEARN_ARTIFACT_TOO_LARGE'
  | 'UNLEARN_INVALID_JOB'
  | 'UNLEARN_QUEUE_UNAVAILABLE'
  | 'UNLEARN_OUT_OF_MEMORY'
  | 'UNLEARN_ABORTED';

/**
 * The one base class of every error unlearnjs throws on purpose.
 *
 * @remarks
 * `code` is stable; `details` carries read-only context (file names, option paths, sizes)
 * for programs; `message` says what happened and what to do next, for people.
 *
 * @example
 * ```ts
 * try { createPlugin(container, 'unlearner', 'gaa'); }
 * catch (err) { if (isUnlearnError(err, 'UNLEARN_UNKNOWN_PLUGIN')) console.error(err.message); }
 * ```
 */
export class UnlearnError extends Error {
  /** The stable machine-readable code. */
  readonly code: UnlearnErrorCode;
  /** Read-only context for programs (never parse the message). */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * @param code - stable code
   * @param message - what happened and what to do next
   * @param options - `details` for context and `cause` when wrapping another error
   */
  constructor(code: UnlearnErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UnlearnError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/**
 * Narrow an unknown thrown value to an {@link UnlearnError}, optionally of one code.
 *
 * @remarks Recognises the error by its shape (`name` "UnlearnError", a string `code` starting
 * with `UNLEARN_`, a `details` object), not by `instanceof`: a plugin installed with its own
 * copy of `@unlearnjs/core` throws instances of another `UnlearnError` class, and those must be
 * understood all the same.
 *
 * @param err - anything that was thrown
 * @param code - when given, the code it must have
 * @returns whether `err` is such an error
 */
export function isUnlearnError(err: unknown, code?: UnlearnErrorCode): err is UnlearnError {
  if (err instanceof UnlearnError) return code === undefined || err.code === code;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; details?: unknown };
  const shaped =
    e.name === 'UnlearnError' &&
    typeof e.code === 'string' &&
    e.code.startsWith('UNLEARN_') &&
    typeof e.details === 'object' &&
    e.details !== null;
  return shaped && (code === undefined || e.code === code);
}
