import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { RlUnlearner } from './rl-unlearner.js';

/**
 * The `rl` unlearner plugin descriptor: random labels on the forget set, trained with the retain set.
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link RlUnlearner}.
 */
export const rlPlugin = definePlugin({
  kind: 'unlearner',
  name: 'rl',
  apiVersion: API_VERSION,
  description: 'Random labels (RL): each epoch, train CE on D_f with labels drawn at random, then on D_r (10 epochs, lr 0.01).',
  create: () => new RlUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof rlPlugin> {}
}

/**
 * Register the `rl` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `rl`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerRl] });
 * await runUnlearner(container, 'rl', { model, data });
 * ```
 */
export function registerRl(container: DependencyContainer): void {
  registerPlugin(container, rlPlugin);
}
