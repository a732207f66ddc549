import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { RetrainUnlearner } from './retrain-unlearner.js';

/**
 * The `retrain` unlearner plugin descriptor: re-initialise and train from scratch on the retain set.
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link RetrainUnlearner}.
 */
export const retrainPlugin = definePlugin({
  kind: 'unlearner',
  name: 'retrain',
  apiVersion: API_VERSION,
  description: 'Retrain: re-initialise the model (masks kept) and train from scratch on D_r (160 epochs, lr 0.1, multistep).',
  create: () => new RetrainUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof retrainPlugin> {}
}

/**
 * Register the `retrain` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `retrain`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerRetrain] });
 * await runUnlearner(container, 'retrain', { model, data });
 * ```
 */
export function registerRetrain(container: DependencyContainer): void {
  registerPlugin(container, retrainPlugin);
}
