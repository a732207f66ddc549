/**
 * Bring your own model to unlearnjs: read and write safetensors (the PyTorch / Hugging Face
 * interchange format), and import and export the reference's PyTorch CIFAR ResNet-18
 * (OPTML-Group/Unlearn-Sparse) with its BatchNorm statistics and pruning masks; and run any
 * TensorFlow.js layers model (model.json + weights, or a `tf.LayersModel`) as a first-class
 * `tfjs-layers` model, exported back to a model.json that `tf.loadLayersModel` loads.
 *
 * @remarks Importing this module registers nothing: {@link importTorchResNet18} builds a
 * `torch-resnet18` model (core's ResNet-18 with PyTorch's padding) without a container; call
 * {@link registerInterop} on a run container to create or reload such models by name
 * (`createModel(container, 'torch-resnet18', config)`, checkpoints of imported models);
 * likewise {@link importLayersModel} and `tfjs-layers`.
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
} from './torch-resnet18-model.js';
export { registerInterop, tfjsLayersModelPlugin, torchResNet18ModelPlugin } from './register.js';
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
export {
  type TfjsLayersOptions,
  TFJS_LAYERS_ARCH,
  tfjsLayersOptionsSchema,
  tfjsLayersDefinition,
  tfjsLayersFactory,
} from './tfjs-layers-model.js';
export { SUPPORTED_LAYER_CLASSES } from './tfjs-layers-topology.js';
export {
  type LayersModelSource,
  type ImportLayersModelOptions,
  type LayersModelImport,
  readLayersModelArtifacts,
  importLayersModel,
  layersModelArtifacts,
  exportLayersModel,
  toLayersModel,
} from './tfjs-layers-io.js';
