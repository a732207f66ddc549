import * as tf from '@tensorflow/tfjs-core';

/**
 * Whether the active backend registers every one of `names`: how the layers and the optimiser
 * decide between a backend's fused kernels (`FUSED_*` names) and composing the same result from
 * element-wise ops. Checked per call, so switching backends switches paths.
 */
export function backendHasKernels(...names: string[]): boolean {
  const backend = tf.getBackend();
  return names.every((name) => tf.getKernel(name, backend) !== undefined);
}
