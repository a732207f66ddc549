import type { BackendInfo } from '../backend/init-backend.js';
import type { Logger } from '../progress/logger.js';
import type { ProgressReporter } from '../progress/progress.js';
import type { Rng } from '../random/rng.js';
import { defineToken } from './token.js';

/** The run's seed (a number). */
export const RUN_SEED = defineToken<number>('RUN_SEED');
/** The run's root random generator; fork it, do not draw from it directly. */
export const RNG = defineToken<Rng>('RNG');
/** The run's {@link Logger}. */
export const LOGGER = defineToken<Logger>('LOGGER');
/** The run's {@link ProgressReporter}. */
export const PROGRESS = defineToken<ProgressReporter>('PROGRESS');
/** The run's AbortSignal. */
export const ABORT_SIGNAL = defineToken<AbortSignal>('ABORT_SIGNAL');
/**
 * What `initBackend` chose for the run (name, threads, kernels), when the app passed it to
 * `createContainer({ backend })`; a plugin checks `container.isRegistered(BACKEND_INFO)` first.
 */
export const BACKEND_INFO = defineToken<BackendInfo>('BACKEND_INFO');
