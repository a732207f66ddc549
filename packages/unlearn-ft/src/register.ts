import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { FtUnlearner } from './ft-unlearner.js';

/**
 * The `ft` unlearner plugin descriptor: fine-tuning with cross-entropy on the retain set.
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link FtUnlearner}.
 */
export const ftPlugin = definePlugin({
  kind: 'unlearner',
  name: 'ft',
  apiVersion: API_VERSION,
  description: 'Fine-tuning (FT): train with cross-entropy on the retain set D_r (10 epochs, lr 0.01).',
  create: () => new FtUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof ftPlugin> {}
}

/**
 * Register the `ft` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `ft`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerFt] });
 * await runUnlearner(container, 'ft', { model, data, options: { epochs: 10 } });
 * ```
 */
export function registerFt(container: DependencyContainer): void {
  registerPlugin(container, ftPlugin);
}
