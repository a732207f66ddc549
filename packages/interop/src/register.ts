import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { tfjsLayersFactory } from './tfjs-layers-model.js';
import { torchResNet18Factory } from './torch-resnet18-model.js';

/**
 * The `torch-resnet18` model plugin: the reference's CIFAR ResNet-18 with PyTorch's padding, the
 * architecture `importTorchResNet18` builds.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 0, use: [registerInterop] });
 * const model = createModel(container, 'torch-resnet18', { width: 64 });
 * ```
 */
export const torchResNet18ModelPlugin = definePlugin({
  kind: 'model',
  name: 'torch-resnet18',
  apiVersion: API_VERSION,
  description: 'ResNet-18, CIFAR variant, with PyTorch padding at the stride-2 convs: the architecture of imported PyTorch checkpoints.',
  create: () => torchResNet18Factory,
});

/**
 * The `tfjs-layers` model plugin: any TensorFlow.js layers model (Sequential or functional) of
 * the supported layer classes, the architecture `importLayersModel` builds.
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 0, use: [registerInterop] });
 * const model = createModel(container, 'tfjs-layers', { topology: layersModel.toJSON(null, false) });
 * ```
 */
export const tfjsLayersModelPlugin = definePlugin({
  kind: 'model',
  name: 'tfjs-layers',
  apiVersion: API_VERSION,
  description:
    'A TensorFlow.js layers model (model.json topology: Conv2D, Dense, BatchNormalization, pooling, ...), weights under their tfjs names.',
  create: () => tfjsLayersFactory,
});

declare module '@unlearnjs/core' {
  interface ModelOptionsByName extends OptionsByNameOf<typeof torchResNet18ModelPlugin | typeof tfjsLayersModelPlugin> {}
}

/**
 * Register interop's model architectures (`torch-resnet18`, `tfjs-layers`) on a run container, so
 * that checkpoints of imported PyTorch and TensorFlow.js models load with
 * `createModel(container, meta.arch, meta.config)`.
 *
 * @param container - the run's container, from `createContainer`
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another model plugin is named `torch-resnet18` or `tfjs-layers`
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerInterop] });
 * ```
 */
export function registerInterop(container: DependencyContainer): void {
  registerPlugin(container, torchResNet18ModelPlugin);
  registerPlugin(container, tfjsLayersModelPlugin);
}
