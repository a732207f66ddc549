// docs/guides/code/my-pruner/src/layerwise-magnitude-pruner.ts
import * as tf from '@tensorflow/tfjs-core';
import type { LayerSparsity, PruneContext, PruneReport, Pruner, SparsityReport } from '@unlearnjs/core';
import { z } from 'zod';
import { layerMask } from './layer-mask.js';

/** Options of `layerwise-magnitude`. */
export const layerwiseMagnitudeOptionsSchema = z.strictObject({
  /** Share of each layer's remaining (unmasked) weights to remove, in [0, 1). */
  rate: z.number().min(0).lt(1).default(0.5),
});

/** Validated options of `layerwise-magnitude`. */
export type LayerwiseMagnitudeOptions = z.output<typeof layerwiseMagnitudeOptionsSchema>;

/**
 * Layer-wise magnitude pruning: remove the same share of the remaining weights in every
 * prunable tensor, smallest |w| first (`omp` and `imp` rank all layers together instead).
 * Data-free: it needs no training data and trains nothing.
 */
export class LayerwiseMagnitudePruner implements Pruner<LayerwiseMagnitudeOptions> {
  readonly name = 'layerwise-magnitude';
  readonly optionsSchema = layerwiseMagnitudeOptionsSchema;

  async prune({ model, options, services }: PruneContext<LayerwiseMagnitudeOptions>): Promise<PruneReport> {
    const t0 = performance.now();
    const masks = new Map<string, tf.Tensor>();
    const layers: LayerSparsity[] = [];
    try {
      for (const name of model.prunable) {
        const weight = model.params.get(name);
        if (!weight) continue;
        const current = model.masks.get(name)?.dataSync() as Float32Array | undefined;
        const keep = layerMask(name, weight.dataSync() as Float32Array, current, options.rate);
        masks.set(name, tf.tensor(keep, weight.shape));
        let pruned = 0;
        for (const v of keep) if (v === 0) pruned++;
        layers.push({ name, size: keep.length, pruned, sparsity: pruned / keep.length });
      }
      model.setMasks(masks); // copies the masks and zeroes the pruned weights
    } finally {
      for (const m of masks.values()) m.dispose();
    }
    const total = layers.reduce((n, l) => n + l.size, 0);
    const pruned = layers.reduce((n, l) => n + l.pruned, 0);
    const sparsity: SparsityReport = { layers, total, pruned, global: total > 0 ? pruned / total : 0 };
    const seconds = (performance.now() - t0) / 1000;
    services.logger.info(`${this.name}: ${(100 * sparsity.global).toFixed(2)}% of ${total} prunable weights pruned`);
    return { pruner: this.name, rounds: [{ round: 1, sparsity, seconds }], sparsity, seconds };
  }
}
