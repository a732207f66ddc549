import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

let loaded = false;

/**
 * Make sure tfjs gradient functions are registered before anything differentiates.
 *
 * @remarks
 * `@tensorflow/tfjs-core` alone registers no gradients: the union package `@tensorflow/tfjs`
 * does, and its Node bundle is the only CommonJS build of them (tfjs-core's
 * `dist/register_all_gradients.js` is extensionless ESM that Node cannot load). Registries are
 * global in tfjs, so loading the union once makes `tf.grad` work for every copy. See
 * docs/decisions/0002-gradients-from-the-tfjs-union-package.md.
 */
export function ensureGradients(): void {
  if (loaded || tf.getGradient('Neg') !== undefined) {
    loaded = true;
    return;
  }
  createRequire(import.meta.url)('@tensorflow/tfjs');
  loaded = true;
}
