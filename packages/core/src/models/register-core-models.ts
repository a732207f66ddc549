import type { DependencyContainer } from 'tsyringe';
import { API_VERSION, type OptionsByNameOf, definePlugin } from '../registry/plugin.js';
import { registerPlugin } from '../registry/container.js';
import { resnet18Factory } from './resnet18.js';
import { vitFactory } from './vit.js';

/**
 * The `resnet18` model plugin: the CIFAR ResNet-18 (3×3 stem, no max-pool), with a width
 * multiplier.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 0, use: [registerCoreModels] });
 * const model = createModel(container, 'resnet18', { width: 16 });
 * ```
 */
export const resnet18ModelPlugin = definePlugin({
  kind: 'model',
  name: 'resnet18',
  apiVersion: API_VERSION,
  description: 'ResNet-18, CIFAR variant (3x3 stem, no max-pool), width multiplier `width` (default 64).',
  create: () => resnet18Factory,
});

/**
 * The `vit` model plugin: a pre-norm Vision Transformer for 32×32 images.
 *
 * @example
 * ```ts
 * const model = createModel(container, 'vit', { dim: 192, depth: 6, heads: 3 });
 * ```
 */
export const vitModelPlugin = definePlugin({
  kind: 'model',
  name: 'vit',
  apiVersion: API_VERSION,
  description: 'Vision Transformer for 32x32 images (patch 4, dim 192, depth 6, heads 3, MLP 384 by default).',
  create: () => vitFactory,
});

declare module '../registry/options-by-name.js' {
  interface ModelOptionsByName extends OptionsByNameOf<typeof resnet18ModelPlugin | typeof vitModelPlugin> {}
}

/**
 * Register core's model architectures (`resnet18`, `vit`) on a run container.
 *
 * @param container - the run's container, from `createContainer`
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another model plugin already uses one of the names
 */
export function registerCoreModels(container: DependencyContainer): void {
  registerPlugin(container, resnet18ModelPlugin);
  registerPlugin(container, vitModelPlugin);
}
