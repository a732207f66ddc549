// docs/guides/code/unlearn-torch-checkpoint.ts
import { type UnlearnData, createContainer, evaluateAccuracy, runUnlearner } from '@unlearnjs/core';
import { exportTorchResNet18, importTorchResNet18, registerInterop } from '@unlearnjs/interop';
import { registerFt } from '@unlearnjs/unlearn-ft';

/** Unlearn a PyTorch ResNet-18 state_dict (safetensors) with FT and write it back for load_state_dict. */
export async function unlearnTorchCheckpoint(file: string, data: UnlearnData, out: string) {
  const container = createContainer({ seed: 1, use: [registerInterop, registerFt] });
  const { model, maskSource, sparsity, numBatchesTracked } = await importTorchResNet18(file, { container });
  try {
    const forgetBefore = evaluateAccuracy(model, data.forget);
    await runUnlearner(container, 'ft', { model, data, options: { epochs: 1, lr: 0.01 } }); // the masks stay applied
    const forgetAfter = evaluateAccuracy(model, data.forget);
    await exportTorchResNet18(model, out, { numBatchesTracked });
    return { maskSource, sparsity, forgetBefore, forgetAfter };
  } finally {
    model.dispose();
  }
}
