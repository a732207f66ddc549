import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { loraAdapter } from './lora-adapter.js';

/**
 * The `lora` adapter plugin descriptor. Importing it registers nothing: pass it to
 * `registerPlugin`, or call {@link registerLora}.
 */
export const loraPlugin = definePlugin({
  kind: 'adapter',
  name: 'lora',
  apiVersion: API_VERSION,
  description: 'LoRA: frozen base weights + trainable low-rank updates W + M ⊙ (α/r)·A·B (mask-preserving merge).',
  create: () => loraAdapter,
});

declare module '@unlearnjs/core' {
  interface AdapterOptionsByName extends OptionsByNameOf<typeof loraPlugin> {}
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
