/**
 * Bring your own model to unlearnjs: read and write safetensors (the PyTorch / Hugging Face
 * interchange format).
 *
 * @remarks Importing this module registers nothing.
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
