import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tfjs from '@tensorflow/tfjs';
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

/** A user's tfjs-layers CNN saved as model.json + weights.bin (what tfjs-node's `save('file://dir')` writes). */
async function saveUserCnn(dir: string): Promise<{ modelJson: string; model: tfjs.LayersModel }> {
  const model = tfjs.sequential({
    layers: [
      tfjs.layers.conv2d({ inputShape: [32, 32, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
      tfjs.layers.batchNormalization(),
      tfjs.layers.reLU(),
      tfjs.layers.maxPooling2d({ poolSize: 2 }),
      tfjs.layers.flatten(),
      tfjs.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  await model.save(
    tfjs.io.withSaveHandler(async (a) => {
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      const json = {
        modelTopology: a.modelTopology,
        format: a.format,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return { modelJson: join(dir, 'model.json'), model };
}

/** tf.loadLayersModel of a model.json and its one weights file, read here (tfjs-node is not installed). */
async function loadLayersFromDir(modelJson: string): Promise<tfjs.LayersModel> {
  const json = JSON.parse(readFileSync(modelJson, 'utf8')) as tfjs.io.ModelJSON;
  const [group] = json.weightsManifest;
  const bytes = readFileSync(join(dirname(modelJson), group.paths[0]));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return tfjs.loadLayersModel(tfjs.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData }));
}

describe('a TensorFlow.js layers model in and out', () => {
  it('imports a model.json as a checkpoint and exports it back with the same outputs', async () => {
    await tfjs.setBackend('cpu');
    const dir = mkdtempSync(join(tmpdir(), 'unlearn-layers-'));
    mkdirSync(join(dir, 'user'));
    const { modelJson, model: user } = await saveUserCnn(join(dir, 'user'));
    try {
      const imported = await cli(['import', '--from', modelJson, '--out', join(dir, 'user-cnn')]);
      expect(imported.code, imported.err).toBe(0);
      expect(JSON.parse(imported.out.trim())).toMatchObject({
        checkpoint: join(dir, 'user-cnn.ckpt'),
        arch: 'tfjs-layers',
        format: 'tfjs',
        finalSoftmax: true,
        prunable: 2,
      });

      const exported = await cli([
        'export',
        '--checkpoint',
        join(dir, 'user-cnn.ckpt'),
        '--format',
        'tfjs',
        '--out',
        join(dir, 'out'),
        '--backend',
        'cpu',
      ]);
      expect(exported.code, exported.err).toBe(0);
      expect(JSON.parse(exported.out.trim())).toMatchObject({ out: join(dir, 'out', 'model.json'), format: 'tfjs' });
      const reloaded = await loadLayersFromDir(join(dir, 'out', 'model.json'));
      const x = tfjs.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 7);
      const a = user.predict(x) as tfjs.Tensor;
      const b = reloaded.predict(x) as tfjs.Tensor;
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      tfjs.dispose([x, a, b]);
      reloaded.dispose();

      // The torch-resnet18 export refuses it; the tfjs export refuses other architectures.
      const wrong = await cli([
        'export',
        '--checkpoint',
        join(dir, 'user-cnn.ckpt'),
        '--out',
        join(dir, 'x.safetensors'),
        '--backend',
        'cpu',
      ]);
      expect(wrong.code).toBe(2);
      expect(wrong.err).toMatch(/holds a tfjs-layers.*\[UNLEARN_CHECKPOINT_INCOMPATIBLE\]/);
    } finally {
      user.dispose();
    }
  }, 120_000);

  it.runIf(hasData)(
    'unlearns an imported model.json with FT on CIFAR-10 and exports it',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'unlearn-layers-'));
      mkdirSync(join(dir, 'user'));
      const { modelJson, model: user } = await saveUserCnn(join(dir, 'user'));
      user.dispose();
      expect((await cli(['import', '--from', modelJson, '--format', 'tfjs', '--out', join(dir, 'cnn')])).code).toBe(0);
      const forget = await cli([
        'forget',
        '--mask',
        join(dir, 'cnn'),
        '--unlearn',
        'FT',
        '--unlearn_epochs',
        '1',
        '--save_dir',
        dir,
        ...tiny,
      ]);
      expect(forget.code, forget.err).toBe(0);
      const exported = await cli([
        'export',
        '--checkpoint',
        join(dir, 'ft', 'unlearned.ckpt'),
        '--format',
        'tfjs',
        '--out',
        join(dir, 'out'),
      ]);
      expect(exported.code, exported.err).toBe(0);
      const reloaded = await loadLayersFromDir(join(dir, 'out', 'model.json'));
      expect(reloaded.outputs[0].shape).toEqual([null, 10]);
      reloaded.dispose();
    },
    600_000,
  );
});
