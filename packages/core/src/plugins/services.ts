import type { BackendInfo } from '../backend/init-backend.js';
import type { Logger } from '../progress/logger.js';
import type { ProgressReporter } from '../progress/progress.js';
import type { Rng } from '../random/rng.js';

/**
 * The services every plugin call receives: where to log, how to report progress, when to
 * stop, and the randomness to use.
 */
export interface RunServices {
  /** Human-readable messages. */
  logger: Logger;
  /** Progress bars for long work. */
  progress: ProgressReporter;
  /** Stop request; long loops check it between batches and throw `UNLEARN_ABORTED`. */
  signal: AbortSignal;
  /** Randomness for this call (already forked for it: use it freely). */
  rng: Rng;
  /**
   * What `initBackend` chose, when the app passed it to `createContainer({ backend })`: `train`
   * plans for its extension's memory limit and translates its failures.
   */
  backend?: BackendInfo;
}
