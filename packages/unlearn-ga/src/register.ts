import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { GaUnlearner } from './ga-unlearner.js';

/**
 * The `ga` unlearner plugin descriptor: gradient ascent on the forget set.
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link GaUnlearner}.
 */
export const gaPlugin = definePlugin({
  kind: 'unlearner',
  name: 'ga',
  apiVersion: API_VERSION,
  description: 'Gradient ascent (GA): minimise -CE on the forget set D_f (5 epochs, lr 1e-4).',
  create: () => new GaUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof gaPlugin> {}
}

/**
 * Register the `ga` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `ga`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerGa] });
 * await runUnlearner(container, 'ga', { model, data, options: { epochs: 5, lr: 1e-4 } });
 * ```
 */
export function registerGa(container: DependencyContainer): void {
  registerPlugin(container, gaPlugin);
}
