// docs/guides/code/my-pruner/src/layer-mask.ts
import { UnlearnError } from '@unlearnjs/core';

/**
 * The new 0/1 mask of one weight tensor: its current mask (all ones when it has none) with
 * the `rate` share of its still-alive weights of smallest |w| set to 0.
 */
export function layerMask(name: string, weight: Float32Array, mask: Float32Array | undefined, rate: number): Float32Array {
  const keep = mask ? Float32Array.from(mask) : new Float32Array(weight.length).fill(1);
  const alive: number[] = [];
  for (let i = 0; i < keep.length; i++) {
    if (keep[i] === 0) continue;
    if (!Number.isFinite(weight[i])) {
      throw new UnlearnError(
        'UNLEARN_NON_FINITE_LOSS',
        `Weight ${name}[${i}] is ${weight[i]}; retrain with a lower learning rate before pruning.`,
        {
          details: { name, index: i },
        },
      );
    }
    alive.push(i);
  }
  // Smallest |w| first; the sort is stable, so ties go by position and the masks are deterministic.
  alive.sort((a, b) => Math.abs(weight[a]) - Math.abs(weight[b]));
  const remove = Math.round(rate * alive.length);
  for (let j = 0; j < remove; j++) keep[alive[j]] = 0;
  return keep;
}
