import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '@unlearnjs/cli';
import { defaultCifar10Dir } from '@unlearnjs/core';
import { readTorchResNet18 } from '@unlearnjs/interop';
import { describe, expect, it } from 'vitest';

const hasData = existsSync(join(defaultCifar10Dir(), 'data_batch_1.bin'));
// Written by PyTorch (scripts/make-torch-fixtures.py): the reference's ResNet-18 at width 4,
// pruned with torch.nn.utils.prune.global_unstructured (weight_orig + weight_mask pairs).
const pruned = fileURLToPath(new URL('../../interop/test/fixtures/resnet18-w4-pruned.safetensors', import.meta.url));
const tiny = ['--train_limit', '300', '--test_limit', '100', '--backend', 'wasm', '--quiet', '--seed', '3'];

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

describe.runIf(hasData)('a PyTorch checkpoint in, unlearned, and out again', () => {
  it('imports the pruned state_dict, forgets with FT, exports it with the same masks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearn-interop-'));
    const imported = await cli(['import', '--from', pruned, '--out', join(dir, 'torch')]);
    expect(imported.code, imported.err).toBe(0);
    const info = JSON.parse(imported.out.trim());
    expect(info).toMatchObject({ arch: 'torch-resnet18', maskSource: 'weight_mask', config: { width: 4 } });
    expect(info.sparsity).toBeGreaterThan(0.4);

    const forget = await cli([
      'forget',
      '--mask',
      join(dir, 'torch'),
      '--unlearn',
      'FT',
      '--unlearn_epochs',
      '1',
      '--save_dir',
      dir,
      ...tiny,
    ]);
    expect(forget.code, forget.err).toBe(0);
    // The reference's --mask may also be the .safetensors file itself.
    const direct = await cli(['forget', '--mask', pruned, '--unlearn', 'GA', '--unlearn_epochs', '1', '--save_dir', dir, ...tiny]);
    expect(direct.code, direct.err).toBe(0);

    const out = join(dir, 'unlearned.safetensors');
    const exported = await cli(['export', '--checkpoint', join(dir, 'ft', 'unlearned.ckpt'), '--out', out, '--backend', 'cpu']);
    expect(exported.code, exported.err).toBe(0);
    const before = await readTorchResNet18(pruned);
    const after = await readTorchResNet18(out);
    // Same names and layouts; the zeros of the exported weights are exactly the original masks.
    expect([...after.weights.keys()].sort()).toEqual([...before.weights.keys()].sort());
    expect(after.maskSource).toBe('zeros');
    for (const [name, mask] of before.masks) {
      const w = after.weights.get(name)?.data ?? [];
      for (let i = 0; i < mask.data.length; i++) if (mask.data[i] === 0) expect(w[i] === 0).toBe(true); // ±0
    }
    // FT changed the weights.
    const w0 = before.weights.get('fc.kernel')?.data ?? [];
    const w1 = after.weights.get('fc.kernel')?.data ?? [];
    expect(Array.from(w1)).not.toEqual(Array.from(w0));
  }, 600_000);

  it('refuses to export core resnet18 weights, which PyTorch would compute differently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearn-interop-'));
    const prune = await cli(['prune', '--width', '4', '--epochs', '1', '--rewind_epoch', '0', '--save_dir', dir, ...tiny]);
    expect(prune.code, prune.err).toBe(0);
    const r = await cli(['export', '--checkpoint', join(dir, '0model_SA_best'), '--out', join(dir, 'x.safetensors'), '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/holds a resnet18.*\[UNLEARN_CHECKPOINT_INCOMPATIBLE\]/);
    expect(existsSync(join(dir, 'x.safetensors'))).toBe(false);
  }, 600_000);
});
