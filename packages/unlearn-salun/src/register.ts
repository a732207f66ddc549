import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { SalunUnlearner } from './salun-unlearner.js';

/**
 * The `salun` unlearner plugin descriptor: random-label unlearning restricted to the weights
 * most salient to the forget set.
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link SalunUnlearner}.
 */
export const salunPlugin = definePlugin({
  kind: 'unlearner',
  name: 'salun',
  apiVersion: API_VERSION,
  description:
    'SalUn: mask the 50% of weights with the largest |gradient of −CE on D_f|, then train only them with random labels on D_f and true labels on D_r (10 epochs, lr 0.013).',
  create: () => new SalunUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof salunPlugin> {}
}

/**
 * Register the `salun` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `salun`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerSalun] });
 * await runUnlearner(container, 'salun', { model, data });
 * ```
 */
export function registerSalun(container: DependencyContainer): void {
  registerPlugin(container, salunPlugin);
}
