import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { FisherUnlearner } from './fisher-unlearner.js';

/**
 * The `fisher` unlearner plugin descriptor: Fisher forgetting (`fisher_new`).
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link FisherUnlearner}.
 */
export const fisherPlugin = definePlugin({
  kind: 'unlearner',
  name: 'fisher',
  apiVersion: API_VERSION,
  description: 'Fisher forgetting (FF): one-shot Gaussian noise with variance alpha/diag-Hessian estimated on the retain set.',
  create: () => new FisherUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof fisherPlugin> {}
}

/**
 * Register the `fisher` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `fisher`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerFisher] });
 * await runUnlearner(container, 'fisher', { model, data, options: { alpha: 1e-6 } });
 * ```
 */
export function registerFisher(container: DependencyContainer): void {
  registerPlugin(container, fisherPlugin);
}
