import { mkdtempSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels, wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import {
  type BackendExtension,
  FUSED_SGD_KERNEL,
  Model,
  type ModelDefinition,
  Rng,
  SgdOptimizer,
  createImageSet,
  crossEntropy,
  createMemoryLogger,
  fullSubset,
  isUnlearnError,
  learningRateAt,
  loadModel,
  planTrainingMemory,
  readCheckpoint,
  saveModel,
  silentProgress,
  train,
  writeCheckpoint,
  type RunServices,
} from '@unlearnjs/core';

// A tiny conv + dense model: the conv kernel and the dense kernel are prunable.
function tinyDefinition(): ModelDefinition {
  return {
    arch: 'tiny-test',
    config: {},
    params: [
      { name: 'conv.kernel', shape: [3, 3, 3, 4], init: 'he-normal' },
      { name: 'fc.kernel', shape: [4 * 8 * 8, 10], init: 'glorot-uniform' },
      { name: 'fc.bias', shape: [10], init: 'zeros' },
    ],
    buffers: [],
    prunable: ['conv.kernel', 'fc.kernel'],
    classifier: { kernel: 'fc.kernel', bias: 'fc.bias' },
    forward(x, ctx) {
      return tf.tidy(() => {
        const h = tf.relu(tf.conv2d(x, ctx.w('conv.kernel') as tf.Tensor4D, 4, 'same'));
        const flat = tf.reshape(h, [x.shape[0], -1]);
        return tf.add(tf.matMul(flat, ctx.w('fc.kernel') as tf.Tensor2D), ctx.w('fc.bias')) as tf.Tensor2D;
      });
    },
  };
}

function syntheticSet(n: number, seed: number) {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[i] = c;
    for (let p = 0; p < 1024; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const base = ((c * 25 + ch * 80 * (c % 3)) % 256) * (p % 2 === 0 ? 1 : 0.5);
        images[i * 3072 + p * 3 + ch] = Math.max(0, Math.min(255, Math.round(base + 30 * rng.normal())));
      }
    }
  }
  return createImageSet({ images, labels });
}

function services(seed: number, signal?: AbortSignal): RunServices {
  return { logger: createMemoryLogger(), progress: silentProgress, signal: signal ?? new AbortController().signal, rng: new Rng(seed) };
}

function weights(model: Model): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [n, v] of model.params) out[n] = Array.from(v.dataSync());
  return out;
}

function randomMasks(model: Model, seed: number): Map<string, tf.Tensor> {
  const rng = new Rng(seed);
  const masks = new Map<string, tf.Tensor>();
  for (const n of model.prunable) {
    const p = model.params.get(n)!;
    const m = new Float32Array(p.size);
    for (let i = 0; i < m.length; i++) m[i] = rng.next() < 0.5 ? 0 : 1;
    masks.set(n, tf.tensor(m, p.shape));
  }
  return masks;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('learningRateAt', () => {
  it('follows MultiStepLR and cosine annealing closed forms', () => {
    const ms = { type: 'multistep' as const, milestones: [91, 136], gamma: 0.1 };
    expect(learningRateAt(0.1, 0, 182, ms)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(0.1, 90, 182, ms)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(0.1, 91, 182, ms)).toBeCloseTo(0.01, 12);
    expect(learningRateAt(0.1, 136, 182, ms)).toBeCloseTo(0.001, 12);
    const cos = { type: 'cosine', minLr: 0 } as const;
    expect(learningRateAt(1, 0, 10, cos)).toBeCloseTo(1, 12);
    expect(learningRateAt(1, 5, 10, cos)).toBeCloseTo(0.5, 12);
    expect(learningRateAt(1, 10, 10, cos)).toBeCloseTo(0, 12);
    expect(learningRateAt(1, 2.5, 10, cos)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    // warm-up rises linearly, then hands over to the schedule
    expect(learningRateAt(1, 0, 10, { type: 'constant' }, 3)).toBeCloseTo(0.25, 12);
    expect(learningRateAt(1, 2, 10, { type: 'constant' }, 3)).toBeCloseTo(0.75, 12);
    expect(learningRateAt(1, 3, 10, { type: 'constant' }, 3)).toBeCloseTo(1, 12);
  });
});

describe('SgdOptimizer', () => {
  it('matches PyTorch SGD (momentum, weight decay) step by step and keeps masked entries at 0', () => {
    const w = tf.variable(tf.tensor1d([1, -2, 3]));
    const mask = tf.tensor1d([1, 0, 1]);
    const opt = new SgdOptimizer({ momentum: 0.9, weightDecay: 0.1 });
    const vars = new Map([['w', w]]);
    let ref = [1, -2, 3];
    let buf = [0, 0, 0];
    const lr = 0.5;
    for (const gv of [
      [0.5, 1, -1],
      [0.25, -3, 2],
    ]) {
      const g = tf.tensor1d(gv);
      opt.step(vars, { w: g }, lr, new Map([['w', mask]]));
      g.dispose();
      const m = [1, 0, 1];
      const gg = gv.map((x, i) => (x + 0.1 * ref[i]) * m[i]);
      buf = buf.map((b, i) => 0.9 * b + gg[i]);
      ref = ref.map((x, i) => (x - lr * buf[i]) * m[i]);
    }
    const got = Array.from(w.dataSync());
    for (const [i, r] of ref.entries()) expect(got[i]).toBeCloseTo(r, 5);
    expect(got[1] === 0).toBe(true);
    opt.dispose();
    w.dispose();
    mask.dispose();
  });

  it("on wasm with @unlearnjs/backend-wasm's fused step: the same weights and buffers as the composed ops on cpu, bit for bit", async () => {
    const rng = new Rng(12);
    const wData = rng.normalArray(301, 0, 1);
    const maskData = Float32Array.from(rng.normalArray(301, 0, 1), (v) => (v > 0 ? 1 : 0));
    const grads = [0, 1, 2].map(() => rng.normalArray(301, 0, 1));
    const run = async (backend: string, options: { nesterov: boolean }) => {
      await tf.setBackend(backend);
      const w = tf.tidy(() => tf.variable(tf.mul(tf.tensor1d(wData), tf.tensor1d(maskData)), true, `w-${backend}-${options.nesterov}`));
      const b = tf.tidy(() => tf.variable(tf.zeros([301]), true, `b-${backend}-${options.nesterov}`));
      const mask = tf.tensor1d(maskData);
      const opt = new SgdOptimizer({ momentum: 0.9, weightDecay: 5e-4, ...options });
      const before = tf.memory().numTensors;
      const profile = await tf.profile(() => {
        for (const [i, gv] of grads.entries()) {
          const g = tf.tensor1d(gv);
          opt.step(
            new Map([
              ['w', w],
              ['b', b],
            ]),
            { w: g, b: g },
            0.1 / (i + 1),
            new Map([['w', mask]]),
          );
          g.dispose();
        }
      });
      const out = {
        w: Array.from(await w.data()),
        b: Array.from(await b.data()),
        bufs: await Promise.all([...opt.state().values()].map(async (t) => Array.from(await t.data()))),
        kernels: profile.kernelNames,
        // The momentum buffers are the only tensors a step keeps.
        kept: tf.memory().numTensors - before,
      };
      opt.dispose();
      tf.dispose([w, b, mask]);
      return out;
    };
    registerWasmTrainingKernels();
    try {
      for (const nesterov of [false, true]) {
        const cpu = await run('cpu', { nesterov });
        const wasm = await run('wasm', { nesterov });
        expect(wasm.kernels).toContain(FUSED_SGD_KERNEL);
        expect(cpu.kernels).not.toContain(FUSED_SGD_KERNEL);
        expect(wasm.w).toEqual(cpu.w);
        expect(wasm.b).toEqual(cpu.b);
        expect(wasm.bufs).toEqual(cpu.bufs);
        expect(wasm.kept).toBe(2);
        expect(cpu.kept).toBe(2);
        for (let i = 0; i < 301; i++) if (maskData[i] === 0) expect(wasm.w[i] === 0).toBe(true);
      }
    } finally {
      unregisterWasmTrainingKernels();
      await tf.setBackend('cpu');
    }
  });
});

describe('train', () => {
  const data = fullSubset(syntheticSet(60, 1));
  const base = { epochs: 3, batchSize: 16, lr: 0.05, evalEvery: 0 };

  it('learns a learnable synthetic task (loss falls)', async () => {
    const model = new Model(tinyDefinition(), new Rng(1));
    const r = await train(model, { ...base, epochs: 4, data, augment: false, services: services(2) });
    expect(r.epochs[3].loss).toBeLessThan(r.epochs[0].loss);
    model.dispose();
  });

  it('keeps masked weights exactly zero through momentum and weight decay', async () => {
    const model = new Model(tinyDefinition(), new Rng(1));
    const masks = randomMasks(model, 3);
    model.setMasks(masks);
    await train(model, { ...base, data, weightDecay: 0.01, services: services(2) });
    for (const [n, m] of masks) {
      const w = model.params.get(n)!.dataSync();
      const mm = m.dataSync();
      let zeroed = 0;
      for (let i = 0; i < w.length; i++) {
        if (mm[i] === 0) {
          expect(w[i] === 0).toBe(true);
          zeroed++;
        }
      }
      expect(zeroed).toBeGreaterThan(0);
      m.dispose();
    }
    // unmasked weights did move
    model.dispose();
  });

  it('gives the same weights for the same seed, and different ones for another seed', async () => {
    const run = async (seed: number) => {
      const model = new Model(tinyDefinition(), new Rng(1));
      await train(model, { ...base, epochs: 1, data, services: services(seed) });
      const w = weights(model);
      model.dispose();
      return w;
    };
    const a = await run(5);
    expect(await run(5)).toEqual(a);
    expect(await run(6)).not.toEqual(a);
  });

  it('resumes a killed run to the same result as an uninterrupted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-train-'));
    const full = new Model(tinyDefinition(), new Rng(1));
    await train(full, { ...base, data, services: services(9) });
    const expected = weights(full);
    full.dispose();

    const ckpt = join(dir, 'train.ckpt');
    const ac = new AbortController();
    const first = new Model(tinyDefinition(), new Rng(1));
    const err = await train(first, {
      ...base,
      data,
      checkpoint: ckpt,
      services: services(9, ac.signal),
      onEpochEnd: ({ epoch }) => {
        if (epoch === 0) ac.abort('killed');
      },
    }).catch((e) => e);
    expect(isUnlearnError(err, 'UNLEARN_ABORTED')).toBe(true);
    first.dispose();
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const resumed = new Model(tinyDefinition(), new Rng(77)); // different init: the checkpoint must win
    const r = await train(resumed, { ...base, data, checkpoint: ckpt, services: services(9) });
    expect(r.resumedAt).toBe(1);
    expect(weights(resumed)).toEqual(expected);
    resumed.dispose();
  });

  it('refuses a checkpoint written with other options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-train-'));
    const ckpt = join(dir, 'train.ckpt');
    const m = new Model(tinyDefinition(), new Rng(1));
    await train(m, { ...base, epochs: 1, data, checkpoint: ckpt, services: services(1) });
    const err = await train(m, { ...base, lr: 0.2, data, checkpoint: ckpt, services: services(1) }).catch((e) => e);
    expect(isUnlearnError(err, 'UNLEARN_CHECKPOINT_INCOMPATIBLE')).toBe(true);
    m.dispose();
  });

  it('stops with UNLEARN_NON_FINITE_LOSS when the loss diverges', async () => {
    const model = new Model(tinyDefinition(), new Rng(1));
    const err = await train(model, {
      ...base,
      data,
      loss: ({ logits }) => tf.div(tf.sum(logits), tf.scalar(0)) as tf.Scalar,
      services: services(1),
    }).catch((e) => e);
    expect(isUnlearnError(err, 'UNLEARN_NON_FINITE_LOSS')).toBe(true);
    model.dispose();
  });

  it('accumulates micro-batch gradients to the full-batch step (no BatchNorm)', async () => {
    const run = async (microBatch?: number) => {
      const model = new Model(tinyDefinition(), new Rng(1));
      await train(model, { ...base, epochs: 1, batchSize: 20, microBatch, data, augment: false, services: services(4) });
      const w = weights(model);
      model.dispose();
      return w;
    };
    const a = await run();
    const b = await run(7);
    for (const k of Object.keys(a)) for (const [i, v] of a[k].entries()) expect(b[k][i]).toBeCloseTo(v, 4);
  });

  it("plans micro-batches for the memory limit of the run's backend extension (and ignores an extension of another backend)", async () => {
    const model = new Model(tinyDefinition(), new Rng(1));
    const vars = [...model.trainableVariables().values()];
    const probe = await planTrainingMemory(model, 20, undefined, [32, 32, 3], vars, { bytes: 2 ** 40, planShare: 1, label: 'x' });
    const memory = { bytes: probe.baseBytes + 5.5 * probe.bytesPerImage, planShare: 1, label: 'a small test heap' };
    const extension = (backend: 'cpu' | 'wasm'): BackendExtension => ({ backend, name: 'fake', registerKernels: () => [], memory });
    const withExtension = (ext: BackendExtension): RunServices => ({
      ...services(4),
      backend: { name: 'cpu', detail: 'cpu', attempts: [], extension: ext },
    });
    const small = await train(model, { ...base, epochs: 1, batchSize: 20, data, services: withExtension(extension('cpu')) });
    expect(small.microBatch).toBe(5); // 20 in 4 passes of 5 (3 passes would need 7)
    const other = await train(model, { ...base, epochs: 1, batchSize: 20, data, services: withExtension(extension('wasm')) });
    expect(other.microBatch).toBeUndefined();
    model.dispose();
  });

  it('trains the epoch passes in order, each a full pass with its own labels, asking for them once per epoch', async () => {
    const first = { source: data.source, indices: data.indices.slice(0, 20) };
    const second = { source: data.source, indices: data.indices.slice(20) };
    const asked: number[] = [];
    const batchesSeen: Array<{ epoch: number; labels: number[] }> = [];
    const totals: number[] = [];
    const progress = {
      start: (_label: string, total: number) => {
        totals.push(total);
        return { tick: () => {}, end: () => {} };
      },
    };
    const model = new Model(tinyDefinition(), new Rng(1));
    await train(model, {
      ...base,
      data,
      // Labels of the first pass change with the epoch, as random-label unlearning's do.
      epochPasses: (epoch) => {
        asked.push(epoch);
        return [{ data: first, labels: new Uint8Array(20).fill(epoch + 5) }, { data: second }];
      },
      loss: ({ logits, labels, epoch }) => {
        batchesSeen.push({ epoch, labels: Array.from(labels.dataSync()) });
        return crossEntropy(logits, labels);
      },
      services: { ...services(3), progress },
    });
    expect(asked).toEqual([0, 1, 2]);
    expect(totals).toEqual([60, 60, 60]);
    const secondLabels = Array.from(second.indices, (i) => data.source.labels[i]).sort();
    for (let epoch = 0; epoch < 3; epoch++) {
      const own = batchesSeen.filter((b) => b.epoch === epoch);
      // 20 images in batches of 16, then 40: two batches of the first pass, then three of the second.
      expect(own.map((b) => b.labels.length)).toEqual([16, 4, 16, 16, 8]);
      expect(own.slice(0, 2).flatMap((b) => b.labels)).toEqual(new Array(20).fill(epoch + 5));
      expect(
        own
          .slice(2)
          .flatMap((b) => b.labels)
          .sort(),
      ).toEqual(secondLabels);
    }
    model.dispose();
  });

  it('with one epoch pass trains exactly as the plain pass over data and labels', async () => {
    const labels = Uint8Array.from(data.indices, (_, k) => (k * 3) % 10);
    const run = async (passes: boolean) => {
      const model = new Model(tinyDefinition(), new Rng(1));
      await train(model, {
        ...base,
        epochs: 2,
        data,
        ...(passes ? { epochPasses: () => [{ data, labels }] } : { labels }),
        services: services(8),
      });
      const w = weights(model);
      model.dispose();
      return w;
    };
    expect(await run(true)).toEqual(await run(false));
  });

  it('leaks no tensors', async () => {
    const model = new Model(tinyDefinition(), new Rng(1));
    model.setMasks(randomMasks(model, 1));
    const before = tf.memory().numTensors;
    await train(model, { ...base, epochs: 2, data, evalSet: data, evalEvery: 1, services: services(1) });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('checkpoint files', () => {
  it('round-trips arrays and meta, and rejects corrupt or foreign files with coded errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-ckpt-'));
    const f = join(dir, 'a.ckpt');
    const data = new Float32Array([1, 2, 3, 4.5]);
    await writeCheckpoint(f, { kind: 'train', meta: { epoch: 3 }, groups: { weights: new Map([['w', { shape: [2, 2], data }]]) } });
    const back = await readCheckpoint(f, 'train');
    expect(back.meta.epoch).toBe(3);
    expect(Array.from(back.groups.weights.get('w')!.data)).toEqual([1, 2, 3, 4.5]);
    expect(back.groups.weights.get('w')!.shape).toEqual([2, 2]);

    const wrongKind = await readCheckpoint(f, 'prune-round').catch((e) => e);
    expect(isUnlearnError(wrongKind, 'UNLEARN_CHECKPOINT_INCOMPATIBLE')).toBe(true);

    const bytes = readFileSync(f);
    bytes[bytes.length - 2] ^= 0xff;
    writeFileSync(join(dir, 'flipped.ckpt'), bytes);
    const flipped = await readCheckpoint(join(dir, 'flipped.ckpt')).catch((e) => e);
    expect(isUnlearnError(flipped, 'UNLEARN_CHECKPOINT_CORRUPT')).toBe(true);

    writeFileSync(join(dir, 'short.ckpt'), readFileSync(f).subarray(0, 40));
    expect(isUnlearnError(await readCheckpoint(join(dir, 'short.ckpt')).catch((e) => e), 'UNLEARN_CHECKPOINT_CORRUPT')).toBe(true);
    writeFileSync(join(dir, 'foreign.ckpt'), 'PK\u0003\u0004 not ours');
    expect(isUnlearnError(await readCheckpoint(join(dir, 'foreign.ckpt')).catch((e) => e), 'UNLEARN_CHECKPOINT_CORRUPT')).toBe(true);
    expect(isUnlearnError(await readCheckpoint(join(dir, 'none.ckpt')).catch((e) => e), 'UNLEARN_CHECKPOINT_MISSING')).toBe(true);
  });
});

describe('loading a checkpoint into a pruned model', () => {
  it('restores the dense weights exactly instead of applying the stale masks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-load-'));
    const dense = new Model(tinyDefinition(), new Rng(1));
    const file = join(dir, 'dense.ckpt');
    await saveModel(file, dense);
    const expected = weights(dense);
    const masks = randomMasks(dense, 4);
    dense.setMasks(masks); // the in-memory model is now "pruned"
    for (const m of masks.values()) m.dispose();
    await loadModel(file, dense);
    expect(dense.masks.size).toBe(0);
    expect(weights(dense)).toEqual(expected);
    dense.dispose();
  });
});

describe('a wasm heap failure', () => {
  it('becomes, through the wasm extension, UNLEARN_OUT_OF_MEMORY with the micro-batch to use, instead of a bare RuntimeError', async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    try {
      const def = tinyDefinition();
      // The real failure needs a 4 GiB allocation; simulate what the module throws.
      const failing: ModelDefinition = {
        ...def,
        forward: () => {
          throw new WebAssembly.RuntimeError('Aborted(). Build with -sASSERTIONS for more info.');
        },
      };
      const model = new Model(failing, new Rng(1));
      const err = await train(model, {
        epochs: 1,
        batchSize: 32,
        lr: 0.1,
        data: fullSubset(syntheticSet(40, 1)),
        services: { ...services(1), backend: { name: 'wasm', detail: 'wasm', attempts: [], extension: wasmTrainingBackend } },
      }).catch((e) => e);
      model.dispose();
      expect(isUnlearnError(err, 'UNLEARN_OUT_OF_MEMORY')).toBe(true);
      expect(err.message).toMatch(/microBatch: 8/);
      expect(err.cause).toBeInstanceOf(WebAssembly.RuntimeError);
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
