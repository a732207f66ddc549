import { UnlearnError } from '../errors/unlearn-error.js';

/**
 * Throw `UNLEARN_ABORTED` if the signal has fired. Long loops call it between batches.
 * @param signal - the run's signal (nothing happens when undefined)
 * @throws UnlearnError `UNLEARN_ABORTED`
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new UnlearnError('UNLEARN_ABORTED', 'The run was aborted; re-run with resume to continue from the last checkpoint.', {
      cause: signal.reason,
    });
  }
}
