import * as api from '@unlearnjs/interop';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'SAFETENSORS_MAX_HEADER_BYTES',
    'SUPPORTED_LAYER_CLASSES',
    'TFJS_LAYERS_ARCH',
    'TORCH_RESNET18_ARCH',
    'decodeSafetensors',
    'encodeSafetensors',
    'exportLayersModel',
    'exportTorchResNet18',
    'importLayersModel',
    'importTorchResNet18',
    'layersModelArtifacts',
    'readLayersModelArtifacts',
    'readSafetensors',
    'readTorchResNet18',
    'readTorchResNet18Masks',
    'registerInterop',
    'safetensorsToTensors',
    'tfjsLayersDefinition',
    'tfjsLayersFactory',
    'tfjsLayersModelPlugin',
    'tfjsLayersOptionsSchema',
    'toLayersModel',
    'torchResNet18Definition',
    'torchResNet18Factory',
    'torchResNet18ModelPlugin',
    'torchResNet18StateDict',
    'writeSafetensors',
  ]);
});
