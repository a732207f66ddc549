/**
 * Core's model architectures and their building blocks.
 * @packageDocumentation
 */
export { registerCoreModels, resnet18ModelPlugin, vitModelPlugin } from './register-core-models.js';
export {
  type ResNet18Options,
  resnet18OptionsSchema,
  resnet18Definition,
  resnet18Factory,
} from './resnet18.js';
export {
  type VitOptions,
  VIT_IMAGE_SIZE,
  vitOptionsSchema,
  vitDefinition,
  vitFactory,
  patchify,
} from './vit.js';
export {
  CIFAR10_MEAN,
  CIFAR10_STD,
  BATCH_NORM_MOMENTUM,
  NORM_EPSILON,
  normalizeCifar,
  conv2d,
  batchNorm,
  FUSED_BATCH_NORM_KERNEL,
  FUSED_BATCH_NORM_GRAD_KERNEL,
  FUSED_BATCH_NORM_INFER_KERNEL,
  FUSED_GELU_KERNELS,
  FUSED_LAYER_NORM_KERNELS,
  layerNorm,
  dense,
  matMul,
  gelu,
  dropout,
} from './layers.js';
export type { BatchNormActOptions } from './layers.js';
