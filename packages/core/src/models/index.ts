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
export { CIFAR10_MEAN, CIFAR10_STD, normalizeCifar } from './layers/normalize-cifar.js';
export { BATCH_NORM_MOMENTUM, NORM_EPSILON } from './layers/norm-constants.js';
export { conv2d } from './layers/conv2d.js';
export { type BatchNormActOptions, batchNorm } from './layers/batch-norm.js';
export { layerNorm } from './layers/layer-norm.js';
export { dense, matMul } from './layers/dense.js';
export { gelu } from './layers/gelu.js';
export { dropout } from './layers/dropout.js';
export {
  FUSED_BATCH_NORM_KERNEL,
  FUSED_BATCH_NORM_GRAD_KERNEL,
  FUSED_BATCH_NORM_INFER_KERNEL,
  FUSED_GELU_KERNELS,
  FUSED_LAYER_NORM_KERNELS,
  MASKED_CONV_KERNELS,
} from '../backend/fused-kernels.js';
