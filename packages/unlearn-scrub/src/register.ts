import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { ScrubUnlearner } from './scrub-unlearner.js';

/**
 * The `scrub` unlearner plugin descriptor: SCRUB's teacher–student max/min distillation.
 *
 * @remarks A plain value: importing it registers nothing. Each `create` returns a new
 * {@link ScrubUnlearner}.
 */
export const scrubPlugin = definePlugin({
  kind: 'unlearner',
  name: 'scrub',
  apiVersion: API_VERSION,
  description:
    'SCRUB: a frozen copy of the model is the teacher; max passes raise KL(teacher||student) on D_f, min passes lower gamma*CE + alpha*KL on D_r (3 epochs, 2 max, lr 5e-4, T 4).',
  create: () => new ScrubUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof scrubPlugin> {}
}

/**
 * Register the `scrub` unlearner on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another unlearner is already named `scrub`
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerScrub] });
 * await runUnlearner(container, 'scrub', { model, data });
 * ```
 */
export function registerScrub(container: DependencyContainer): void {
  registerPlugin(container, scrubPlugin);
}
