import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FORMAT_VERSION,
  Model,
  type ModelDefinition,
  Rng,
  isUnlearnError,
  loadModel,
  modelToCheckpoint,
  readCheckpoint,
  saveModel,
  writeCheckpoint,
} from '@unlearnjs/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// A conv + BatchNorm-like buffer + dense model: enough to carry weights, a buffer and masks.
function tinyDefinition(): ModelDefinition {
  return {
    arch: 'tiny-ckpt',
    config: {},
    params: [
      { name: 'conv.kernel', shape: [3, 3, 3, 4], init: 'he-normal' },
      { name: 'fc.kernel', shape: [4, 10], init: 'glorot-uniform' },
      { name: 'fc.bias', shape: [10], init: 'zeros' },
    ],
    buffers: [{ name: 'bn.runningVar', shape: [4], init: 'ones' }],
    prunable: ['conv.kernel', 'fc.kernel'],
    classifier: { kernel: 'fc.kernel', bias: 'fc.bias' },
    forward: (x, ctx) =>
      tf.tidy(() => {
        const h = tf.mean(tf.conv2d(x, ctx.w('conv.kernel') as tf.Tensor4D, 1, 'same'), [1, 2]);
        return tf.add(tf.matMul(h, ctx.w('fc.kernel') as tf.Tensor2D), ctx.w('fc.bias')) as tf.Tensor2D;
      }),
  };
}

const MAGIC = Buffer.from('UNLEARNJS-CKPT\n');

interface Entry {
  group: string;
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/** Lay out a checkpoint by hand, as a writer with a bug (or an older release) would. */
function buildFile(version: 1 | 2, arrays: Entry[], payload: Buffer, extra: Record<string, unknown> = {}): Buffer {
  const header = {
    format: 'unlearnjs-checkpoint',
    formatVersion: version,
    kind: 'model',
    meta: {},
    arrays,
    payloadBytes: payload.length,
    ...(version === 1 ? { sha256: createHash('sha256').update(payload).digest('hex') } : {}),
    ...extra,
  };
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  const body = Buffer.concat([MAGIC, len, h, payload]);
  return version === 1 ? body : Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

function floats(...v: number[]): Buffer {
  return Buffer.from(new Float32Array(v).buffer);
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e) => e,
  );
}

describe('the checkpoint header', () => {
  it('is covered by the checksum: a shape edited in a written file is refused as corrupt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-ckpt-hdr-'));
    const f = join(dir, 'a.ckpt');
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    await writeCheckpoint(f, { kind: 'model', meta: {}, groups: { weights: new Map([['w', { shape: [2, 3], data }]]) } });
    const bytes = readFileSync(f);
    const at = bytes.indexOf('"shape":[2,3]');
    expect(at).toBeGreaterThan(0);
    bytes.write('"shape":[3,2]', at); // same length: only a header-covering checksum can tell
    writeFileSync(f, bytes);
    const err = await errorOf(readCheckpoint(f));
    expect(isUnlearnError(err, 'UNLEARN_CHECKPOINT_CORRUPT')).toBe(true);
    expect((err as Error).message).toContain(f);
  });

  it('is checked against the payload: each misfit names the file and the array', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-ckpt-fit-'));
    const payload = floats(1, 2, 3, 4, 5, 6);
    const ok: Entry = { group: 'weights', name: 'a', shape: [2], offset: 0, length: 2 };
    const cases: Array<[string, Entry[]]> = [
      ['shape holds more values than length', [ok, { group: 'weights', name: 'b', shape: [2, 3], offset: 8, length: 4 }]],
      ['offset past the payload', [ok, { group: 'weights', name: 'b', shape: [4], offset: 16, length: 4 }]],
      ['overlapping arrays', [ok, { group: 'weights', name: 'b', shape: [4], offset: 4, length: 4 }]],
      ['length past the payload', [ok, { group: 'weights', name: 'b', shape: [8], offset: 8, length: 8 }]],
      ['negative dimension', [ok, { group: 'weights', name: 'b', shape: [-4], offset: 8, length: 4 }]],
      ['fractional offset', [ok, { group: 'weights', name: 'b', shape: [4], offset: 8.5, length: 4 }]],
      ['the same array twice', [ok, { group: 'weights', name: 'a', shape: [4], offset: 8, length: 4 }]],
    ];
    for (const version of [1, 2] as const) {
      for (const [label, arrays] of cases) {
        const f = join(dir, `v${version}-${label.replaceAll(' ', '-')}.ckpt`);
        writeFileSync(f, buildFile(version, arrays, payload));
        const err = await errorOf(readCheckpoint(f));
        expect(isUnlearnError(err, 'UNLEARN_CHECKPOINT_CORRUPT'), `v${version} ${label}: ${String(err)}`).toBe(true);
        const e = err as { message: string; details: Record<string, unknown> };
        expect(e.details.file).toBe(f);
        expect(e.details.tensor, label).toMatch(/^weights\/[ab]$/);
        expect(e.message).toContain(f);
        expect(e.message).toContain(String(e.details.tensor));
      }
    }
  });

  it('refuses a payload the arrays do not account for, and a malformed header', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-ckpt-gap-'));
    const cases: Array<[string, Buffer]> = [
      ['trailing bytes', buildFile(2, [{ group: 'weights', name: 'a', shape: [2], offset: 0, length: 2 }], floats(1, 2, 3))],
      ['no array list', buildFile(2, [], floats(), { arrays: undefined })],
      ['meta not an object', buildFile(2, [], floats(), { meta: [1] })],
      ['odd payload size', buildFile(1, [], Buffer.alloc(3))],
    ];
    for (const [label, bytes] of cases) {
      const f = join(dir, `${label.replaceAll(' ', '-')}.ckpt`);
      writeFileSync(f, bytes);
      const err = await errorOf(readCheckpoint(f));
      expect(isUnlearnError(err, 'UNLEARN_CHECKPOINT_CORRUPT'), `${label}: ${String(err)}`).toBe(true);
    }
  });

  it('still reads a valid format-1 file, and writes the current format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-ckpt-v1-'));
    const f = join(dir, 'old.ckpt');
    const arrays: Entry[] = [
      { group: 'weights', name: 'a', shape: [2], offset: 0, length: 2 },
      { group: 'masks', name: 'a', shape: [2], offset: 8, length: 2 },
    ];
    writeFileSync(f, buildFile(1, arrays, floats(1.5, -2, 1, 0)));
    const back = await readCheckpoint(f, 'model');
    expect(Array.from(back.groups.weights.get('a')?.data ?? [])).toEqual([1.5, -2]);
    expect(Array.from(back.groups.masks.get('a')?.data ?? [])).toEqual([1, 0]);

    const g = join(dir, 'new.ckpt');
    await writeCheckpoint(g, back);
    const header = readFileSync(g)
      .subarray(MAGIC.length + 4)
      .toString('utf8');
    expect(header).toContain(`"formatVersion":${CHECKPOINT_FORMAT_VERSION}`);
    expect(Array.from((await readCheckpoint(g)).groups.masks.get('a')?.data ?? [])).toEqual([1, 0]);
  });

  it('is refused at write time when an array does not fit its shape', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-ckpt-w-'));
    const err = await errorOf(
      writeCheckpoint(join(dir, 'x.ckpt'), {
        kind: 'model',
        meta: {},
        groups: { weights: new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]]) },
      }),
    );
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
  });
});

describe('non-finite values in a checkpoint', () => {
  it.each([
    ['a NaN weight', 'conv.kernel', Number.NaN],
    ['an Inf weight', 'fc.bias', Number.POSITIVE_INFINITY],
    ['a -Inf BatchNorm buffer', 'bn.runningVar', Number.NEGATIVE_INFINITY],
  ])('are refused at load (%s), naming the file and the tensor, and the model keeps its weights', async (_label, name, value) => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-ckpt-nan-'));
    const f = join(dir, 'bad.ckpt');
    const source = new Model(tinyDefinition(), new Rng(1));
    const v = (source.params.get(name) ?? source.buffers.get(name)) as tf.Variable;
    const values = v.dataSync().slice();
    values[1] = value;
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
    await saveModel(f, source); // the checksum is valid: the writer stored what it had
    source.dispose();

    const target = new Model(tinyDefinition(), new Rng(2));
    const before = Array.from(target.params.get('conv.kernel')?.dataSync() ?? []);
    const tensors = tf.memory().numTensors;
    const err = await errorOf(loadModel(f, target));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(isUnlearnError(err, 'UNLEARN_NON_FINITE_WEIGHTS'), String(err)).toBe(true);
    const e = err as { message: string; details: Record<string, unknown> };
    expect(e.details.file).toBe(f);
    expect(e.details.tensor).toBe(`weights/${name}`);
    expect(e.message).toContain(f);
    expect(e.message).toContain(name);
    expect(Array.from(target.params.get('conv.kernel')?.dataSync() ?? [])).toEqual(before);
    target.dispose();
  });

  it('are refused by loadModelFromCheckpoint on data that did not come from a file', async () => {
    const { loadModelFromCheckpoint } = await import('@unlearnjs/core');
    const model = new Model(tinyDefinition(), new Rng(1));
    const ck = modelToCheckpoint(model);
    const w = ck.groups.weights.get('fc.kernel');
    if (!w) throw new Error('fixture');
    w.data[0] = Number.NaN;
    const err = (() => {
      try {
        loadModelFromCheckpoint(model, { kind: 'model', ...ck }, 'mem.ckpt');
      } catch (e) {
        return e;
      }
    })();
    expect(isUnlearnError(err, 'UNLEARN_NON_FINITE_WEIGHTS')).toBe(true);
    expect((err as { details: Record<string, unknown> }).details.tensor).toBe('weights/fc.kernel');
    model.dispose();
  });
});
