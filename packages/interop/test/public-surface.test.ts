import * as api from '@unlearnjs/interop';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'SAFETENSORS_MAX_HEADER_BYTES',
    'TORCH_RESNET18_ARCH',
    'decodeSafetensors',
    'encodeSafetensors',
    'exportTorchResNet18',
    'importTorchResNet18',
    'readSafetensors',
    'readTorchResNet18',
    'readTorchResNet18Masks',
    'registerInterop',
    'safetensorsToTensors',
    'torchResNet18Definition',
    'torchResNet18Factory',
    'torchResNet18ModelPlugin',
    'torchResNet18StateDict',
    'writeSafetensors',
  ]);
});
