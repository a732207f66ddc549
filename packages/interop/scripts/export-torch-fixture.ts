// Used by scripts/make-torch-fixtures.py: import a reference ResNet-18 state_dict and export it
// back, so that the Python side can load our file into PyTorch and compare logits.
// Usage: tsx --conditions=@unlearnjs/source scripts/export-torch-fixture.ts <in.safetensors> <out.safetensors> [applied|weight_orig]
import '@tensorflow/tfjs-backend-cpu';
import { exportTorchResNet18, importTorchResNet18 } from '../src/index.js';

const [input, output, form = 'applied'] = process.argv.slice(2);
if (!input || !output || (form !== 'applied' && form !== 'weight_orig')) {
  console.error('usage: export-torch-fixture.ts <in.safetensors> <out.safetensors> [applied|weight_orig]');
  process.exit(2);
}
const imported = await importTorchResNet18(input);
try {
  await exportTorchResNet18(imported.model, output, { masks: form, numBatchesTracked: imported.numBatchesTracked });
  console.log(`exported ${input} (masks from ${imported.maskSource}, sparsity ${imported.sparsity.toFixed(3)}) to ${output} (${form})`);
} finally {
  imported.model.dispose();
}
