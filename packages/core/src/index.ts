/**
 * Core of unlearnjs.
 * @packageDocumentation
 */
export { UnlearnError, isUnlearnError, type UnlearnErrorCode } from './errors/unlearn-error.js';
export { Rng, type RngState } from './random/rng.js';
