/**
 * Bring your own model to unlearnjs: read and write safetensors (the PyTorch / Hugging Face
 * interchange format), and import and export the reference's PyTorch CIFAR ResNet-18
 * (OPTML-Group/Unlearn-Sparse) with its BatchNorm statistics and pruning masks.
 *
 * @remarks Importing this module registers nothing: {@link importTorchResNet18} builds a
 * `torch-resnet18` model (core's ResNet-18 with PyTorch's padding) without a container; call
 * {@link registerInterop} on a run container to create or reload such models by name
 * (`createModel(container, 'torch-resnet18', config)`, checkpoints of imported models).
 * @packageDocumentation
 */
export {
  type SafetensorsDtype,
  type SafetensorsArray,
  type SafetensorsContent,
  type SafetensorsWritable,
  type ReadSafetensorsOptions,
  SAFETENSORS_MAX_HEADER_BYTES,
  readSafetensors,
  decodeSafetensors,
  safetensorsToTensors,
  encodeSafetensors,
  writeSafetensors,
} from './safetensors.js';
export {
  TORCH_RESNET18_ARCH,
  torchResNet18Definition,
  torchResNet18Factory,
  torchResNet18ModelPlugin,
  registerInterop,
} from './torch-resnet18-model.js';
export {
  type MaskSource,
  type TorchResNet18Arch,
  type ReadTorchResNet18Options,
  type TorchResNet18State,
  type ImportTorchResNet18Options,
  type TorchResNet18Import,
  type ExportTorchResNet18Options,
  readTorchResNet18,
  readTorchResNet18Masks,
  importTorchResNet18,
  torchResNet18StateDict,
  exportTorchResNet18,
} from './torch-resnet18.js';
