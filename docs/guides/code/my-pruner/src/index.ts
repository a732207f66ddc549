// docs/guides/code/my-pruner/src/index.ts
import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { LayerwiseMagnitudePruner } from './layerwise-magnitude-pruner.js';

export { layerMask } from './layer-mask.js';
export {
  type LayerwiseMagnitudeOptions,
  LayerwiseMagnitudePruner,
  layerwiseMagnitudeOptionsSchema,
} from './layerwise-magnitude-pruner.js';

/** The `layerwise-magnitude` plugin: a plain value, so importing this package registers nothing. */
export const layerwiseMagnitudePlugin = definePlugin({
  kind: 'pruner',
  name: 'layerwise-magnitude',
  apiVersion: API_VERSION,
  description: 'Magnitude pruning with the same rate in every layer (omp/imp rank all layers together).',
  create: () => new LayerwiseMagnitudePruner(), // its `name` must be 'layerwise-magnitude'
});

// Types `runPruner(container, 'layerwise-magnitude', { options })` from the descriptor.
declare module '@unlearnjs/core' {
  interface PrunerOptionsByName extends OptionsByNameOf<typeof layerwiseMagnitudePlugin> {}
}

/** Register `layerwise-magnitude` on a run container. */
export function registerLayerwiseMagnitude(container: DependencyContainer): void {
  registerPlugin(container, layerwiseMagnitudePlugin);
}
