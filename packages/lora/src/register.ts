import { type DependencyContainer, registerPlugin } from '@unlearnjs/core';
import { loraPlugin } from './lora-adapter.js';
import type { LoraOptions } from './lora-options.js';

declare module '@unlearnjs/core' {
  interface AdapterOptionsByName {
    lora: LoraOptions;
  }
}

/**
 * Register the `lora` adapter on a run container.
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another adapter is already named `lora`
 * @example
 * ```ts
 * const container = createContainer({ seed: 0, use: [registerLora] });
 * const lora = attachAdapter(container, 'lora', model, { rank: 8 });
 * ```
 */
export function registerLora(container: DependencyContainer): void {
  registerPlugin(container, loraPlugin);
}
