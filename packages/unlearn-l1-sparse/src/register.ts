import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { L1SparseUnlearner } from './l1-sparse-unlearner.js';

/**
 * The `l1-sparse` unlearner plugin descriptor: fine-tuning with a linearly decaying L1 penalty.
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link L1SparseUnlearner}.
 */
export const l1SparsePlugin = definePlugin({
  kind: 'unlearner',
  name: 'l1-sparse',
  apiVersion: API_VERSION,
  description: 'l1-sparse: fine-tune on D_r with CE + alpha_t * ||theta||_1, alpha_t decaying linearly to 0 (10 epochs, lr 0.01).',
  create: () => new L1SparseUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof l1SparsePlugin> {}
}

/**
 * Register the `l1-sparse` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `l1-sparse`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerL1Sparse] });
 * await runUnlearner(container, 'l1-sparse', { model, data, options: { alpha: 5e-4 } });
 * ```
 */
export function registerL1Sparse(container: DependencyContainer): void {
  registerPlugin(container, l1SparsePlugin);
}
