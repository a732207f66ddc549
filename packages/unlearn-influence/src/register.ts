import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { InfluenceUnlearner } from './influence-unlearner.js';

/**
 * The `influence` unlearner plugin descriptor: influence unlearning with a WoodFisher
 * inverse-Hessian estimate (`wfisher`).
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link InfluenceUnlearner}.
 */
export const influencePlugin = definePlugin({
  kind: 'unlearner',
  name: 'influence',
  apiVersion: API_VERSION,
  description: 'Influence unlearning (IU): one step theta + alpha * WoodFisher(H^-1) v, v = forget minus retain mean gradient.',
  create: () => new InfluenceUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof influencePlugin> {}
}

/**
 * Register the `influence` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `influence`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerInfluence] });
 * await runUnlearner(container, 'influence', { model, data, options: { alpha: 1 } });
 * ```
 */
export function registerInfluence(container: DependencyContainer): void {
  registerPlugin(container, influencePlugin);
}
