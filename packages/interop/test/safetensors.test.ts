import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { expectNoTensorLeak, expectUnlearnError } from '@unlearnjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SAFETENSORS_MAX_HEADER_BYTES,
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  safetensorsToTensors,
  writeSafetensors,
} from '../src/index.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unlearnjs-safetensors-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A safetensors file from a header object (or raw header text) and a data section, as the spec lays it out. */
function fileOf(header: Record<string, unknown> | string, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bytesLE(values: number[], bytesPer: 2 | 4 | 8, kind: 'uint' | 'float' | 'bigint' = 'uint'): Uint8Array {
  const out = new Uint8Array(values.length * bytesPer);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (kind === 'bigint') view.setBigInt64(i * 8, BigInt(v), true);
    else if (kind === 'float' && bytesPer === 8) view.setFloat64(i * 8, v, true);
    else if (kind === 'float') view.setFloat32(i * 4, v, true);
    else if (bytesPer === 2) view.setUint16(i * 2, v, true);
    else view.setUint32(i * 4, v, true);
  });
  return out;
}

async function onDisk(name: string, bytes: Uint8Array): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return file;
}

/** Decoding from bytes and reading from a file fail alike, with the code given, naming the file. */
async function expectBadFile(
  name: string,
  bytes: Uint8Array,
  code: 'UNLEARN_CHECKPOINT_CORRUPT' | 'UNLEARN_CHECKPOINT_INCOMPATIBLE',
  reason?: string,
) {
  const file = await onDisk(name, bytes);
  const err = await expectUnlearnError(() => readSafetensors(file), code);
  expect(err.details.file).toBe(file);
  expect(err.message).toContain(file);
  if (reason) expect(err.details.reason).toBe(reason);
  const fromBytes = await expectUnlearnError(() => decodeSafetensors(bytes, { name }), code);
  expect(fromBytes.message).toContain(name);
  return err;
}

describe('writing', () => {
  it('lays a file out as the specification says: u64 header length, space-padded JSON, contiguous data', () => {
    const bytes = encodeSafetensors(
      new Map<string, { shape: number[]; data: Float32Array | Int32Array }>([
        ['a', { shape: [3], data: Float32Array.of(1, 2, 3) }],
        ['count', { shape: [], data: Int32Array.of(7) }],
      ]),
      { format: 'pt' },
    );
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeGreaterThan(0);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const header = JSON.parse(text);
    expect(header.__metadata__).toEqual({ format: 'pt' });
    // The 8-byte integer first, so that every tensor is aligned to its element size.
    expect(header.count).toEqual({ dtype: 'I64', shape: [], data_offsets: [0, 8] });
    expect(header.a).toEqual({ dtype: 'F32', shape: [3], data_offsets: [8, 20] });
    expect(bytes.length).toBe(8 + n + 20);
    expect(view.getBigInt64(8 + n, true)).toBe(7n);
    expect(view.getFloat32(8 + n + 16, true)).toBe(3);
  });

  it('round-trips tensors and metadata through a file without leaking tensors', async () => {
    const file = path.join(dir, 'sub', 'round-trip.safetensors');
    await expectNoTensorLeak(async () => {
      const w = tf.tensor([
        [1.5, -2],
        [0, 3e-8],
      ]);
      const c = tf.scalar(12, 'int32');
      await writeSafetensors(
        file,
        new Map([
          ['w', w],
          ['c', c],
        ]),
        { note: 'hi' },
      );
      tf.dispose([w, c]);
    });
    const back = await readSafetensors(file);
    expect(back.metadata).toEqual({ note: 'hi' });
    expect(back.tensors.get('w')).toEqual({ dtype: 'F32', shape: [2, 2], data: Float32Array.of(1.5, -2, 0, 3e-8) });
    expect(back.tensors.get('c')).toEqual({ dtype: 'I64', shape: [], data: Int32Array.of(12) });
    expect(decodeSafetensors(await fs.readFile(file))).toEqual(back);
    await expectNoTensorLeak(() => {
      const ts = safetensorsToTensors(back.tensors);
      expect(ts.get('w')?.dtype).toBe('float32');
      expect(ts.get('c')?.dtype).toBe('int32');
      tf.dispose([...ts.values()]);
    });
  });

  it('refuses what it cannot write, with a coded error', async () => {
    const b = tf.tensor([true, false], [2], 'bool');
    await expectUnlearnError(() => encodeSafetensors(new Map([['b', b]])), 'UNLEARN_INVALID_OPTIONS');
    b.dispose();
    await expectUnlearnError(
      () => encodeSafetensors(new Map([['__metadata__', { shape: [1], data: Float32Array.of(1) }]])),
      'UNLEARN_INVALID_OPTIONS',
    );
    await expectUnlearnError(
      () => encodeSafetensors(new Map([['x', { shape: [2], data: Float32Array.of(1) }]])),
      'UNLEARN_INVALID_OPTIONS',
    );
    await expectUnlearnError(() => encodeSafetensors(new Map(), { n: 3 as unknown as string }), 'UNLEARN_INVALID_OPTIONS');
  });
});

describe('dtypes', () => {
  it('decodes F16 exactly, subnormals and infinities included (values worked out by hand)', () => {
    // 0x3c00 = 1, 0xc000 = -2, 0x7bff = (2 - 2^-10)·2^15 = 65504, 0x0001 = 2^-24 (smallest
    // subnormal), 0x3555 = (1 + 341/1024)/4 = 1365/4096, 0x8000 = -0, 0x7c00 = +Inf, 0x7e00 = NaN.
    const raw = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8000, 0x7c00, 0x7e00];
    const data = bytesLE(raw, 2);
    const { tensors } = decodeSafetensors(fileOf({ h: { dtype: 'F16', shape: [8], data_offsets: [0, 16] } }, data));
    const v = [...(tensors.get('h')?.data ?? [])];
    expect(v.slice(0, 7)).toEqual([1, -2, 65504, 2 ** -24, 1365 / 4096, -0, Number.POSITIVE_INFINITY]);
    expect(Object.is(v[5], -0)).toBe(true);
    expect(Number.isNaN(v[7])).toBe(true);
  });

  it('decodes BF16 as the top half of a float32 and rounds F64 to the nearest float32', () => {
    // BF16 0x3f80 = 1, 0x4049 = 2·(1 + 73/128) = 3.140625, 0xbf00 = -0.5, 0x0001 = 2^-133.
    const bf = bytesLE([0x3f80, 0x4049, 0xbf00, 0x0001], 2);
    // F64 π → float32 13176795/2^22; 1e-40 → the float32 subnormal 71362·2^-149; 1e39 overflows.
    const f64 = bytesLE([Math.PI, 1e-40, 1e39, 0.5], 8, 'float');
    const header = {
      b: { dtype: 'BF16', shape: [2, 2], data_offsets: [0, 8] },
      d: { dtype: 'F64', shape: [4], data_offsets: [8, 40] },
    };
    const { tensors } = decodeSafetensors(fileOf(header, new Uint8Array([...bf, ...f64])));
    expect([...(tensors.get('b')?.data ?? [])]).toEqual([1, 3.140625, -0.5, 2 ** -133]);
    expect(tensors.get('b')?.shape).toEqual([2, 2]);
    expect([...(tensors.get('d')?.data ?? [])]).toEqual([13176795 / 2 ** 22, 71362 * 2 ** -149, Number.POSITIVE_INFINITY, 0.5]);
  });

  it('decodes what PyTorch wrote: F16, BF16, F64, I64, I32, U8, BOOL and a scalar', async () => {
    const { tensors, metadata } = await readSafetensors(path.join(FIXTURES, 'dtypes.safetensors'));
    expect(metadata).toEqual({ writer: 'make-torch-fixtures.py' });
    const values = (name: string) => [...(tensors.get(name)?.data ?? [])];
    expect(tensors.get('f16')?.dtype).toBe('F16');
    // torch.tensor(1/3, float16) is 1365/4096 (above); 0.1 is 1638/16384: (1 + 614/1024)·2^-4.
    expect(values('f16')).toEqual([1, -2, 65504, 2 ** -24, 1365 / 4096, -0, Number.POSITIVE_INFINITY, 1638 / 16384]);
    // bf16(1/3): float32 0x3eaaaaab rounds up to 0x3eab, i.e. (1 + 43/128)/4 = 171/512.
    expect(values('bf16')).toEqual([1, 3.140625, -0.5, 171 / 512, 2 ** -133, Number.NEGATIVE_INFINITY]);
    // float32(1/3) = 11184811/2^25.
    expect(values('f64')).toEqual([13176795 / 2 ** 22, 11184811 / 2 ** 25, 71362 * 2 ** -149, Number.NEGATIVE_INFINITY]);
    expect(tensors.get('f64')?.shape).toEqual([2, 2]);
    expect(values('i64')).toEqual([0, -1, 2 ** 31 - 1, -(2 ** 31)]);
    expect(tensors.get('i64')?.data).toBeInstanceOf(Int32Array);
    expect(values('i32')).toEqual([7, -8]);
    expect(values('u8')).toEqual([0, 1, 255]);
    expect(tensors.get('bool')).toEqual({ dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) });
    expect(tensors.get('scalar')).toEqual({ dtype: 'F32', shape: [], data: Float32Array.of(2.5) });
    await expectNoTensorLeak(() => {
      const ts = safetensorsToTensors(tensors);
      expect(ts.get('bool')?.dtype).toBe('bool');
      expect(ts.get('u8')?.dataSync()).toEqual(Int32Array.of(0, 1, 255));
      tf.dispose([...ts.values()]);
    });
  });

  it('refuses I64 values outside int32 and BOOL bytes other than 0 and 1', async () => {
    await expectBadFile(
      'i64.safetensors',
      fileOf({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, bytesLE([2 ** 31], 8, 'bigint')),
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
    );
    await expectBadFile(
      'bool.safetensors',
      fileOf({ x: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, Uint8Array.of(1, 2)),
      'UNLEARN_CHECKPOINT_CORRUPT',
    );
  });

  it('refuses a dtype of the specification it does not read as incompatible, an unknown one as corrupt', async () => {
    const i8 = await expectBadFile(
      'i8.safetensors',
      fileOf({ x: { dtype: 'I8', shape: [2], data_offsets: [0, 2] } }, Uint8Array.of(1, 2)),
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
    );
    expect(i8.details.dtype).toBe('I8');
    expect(i8.details.tensor).toBe('x');
    await expectBadFile(
      'f31.safetensors',
      fileOf({ x: { dtype: 'F31', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'unknown-dtype',
    );
  });
});

describe('bad files: a coded error naming the file, no crash, no huge allocation', () => {
  const f32 = (shape: number[], offsets: [number, number]) => ({ dtype: 'F32', shape, data_offsets: offsets });

  it('a truncated header (fewer than 8 bytes)', async () => {
    await expectBadFile('empty.safetensors', new Uint8Array(0), 'UNLEARN_CHECKPOINT_CORRUPT', 'truncated');
    await expectBadFile('five.safetensors', Uint8Array.of(16, 0, 0, 0, 0), 'UNLEARN_CHECKPOINT_CORRUPT', 'truncated');
  });

  it('a header length past the end of the file', async () => {
    const good = fileOf({ x: f32([1], [0, 4]) }, new Uint8Array(4));
    await expectBadFile('past-end.safetensors', good.subarray(0, 20), 'UNLEARN_CHECKPOINT_CORRUPT', 'header-past-end');
  });

  it('a claimed 10 GB header or tensor, failing before anything of that size is allocated', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const err = await expectBadFile(
      '10gb-header.safetensors',
      fileOf({}, new Uint8Array(0), 10_000_000_000n),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'header-past-end',
    );
    expect(err.details.headerBytes).toBe('10000000000');
    // A tensor of 2.5e9 float32 claiming bytes the 12-byte data section does not have.
    await expectBadFile(
      '10gb-tensor.safetensors',
      fileOf({ x: f32([2_500_000_000], [0, 10_000_000_000]) }, new Uint8Array(12)),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'out-of-range',
    );
    // A header over the format's 100 MB limit, in a file long enough to hold it (sparse on disk).
    const sparse = path.join(dir, 'big-header.safetensors');
    const handle = await fs.open(sparse, 'w');
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(SAFETENSORS_MAX_HEADER_BYTES + 8), true);
    await handle.write(prefix, 0, 8, 0);
    await handle.truncate(SAFETENSORS_MAX_HEADER_BYTES + 64);
    await handle.close();
    const big = await expectUnlearnError(() => readSafetensors(sparse), 'UNLEARN_CHECKPOINT_CORRUPT');
    expect(big.details.reason).toBe('header-too-large');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50_000_000);
  });

  it('a shape that disagrees with the byte length', async () => {
    const err = await expectBadFile(
      'shape.safetensors',
      fileOf({ x: f32([2, 3], [0, 20]) }, new Uint8Array(20)),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'shape-mismatch',
    );
    expect(err.details.tensor).toBe('x');
    // A shape whose product overflows doubles is still not the 4 bytes it claims.
    await expectBadFile(
      'huge-shape.safetensors',
      fileOf({ x: f32([2 ** 52, 2 ** 52], [0, 4]) }, new Uint8Array(4)),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'shape-mismatch',
    );
  });

  it('duplicate keys, which JSON.parse would silently merge', async () => {
    const header = `{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`;
    const err = await expectBadFile('dup.safetensors', fileOf(header, new Uint8Array(8)), 'UNLEARN_CHECKPOINT_CORRUPT', 'duplicate-key');
    expect(err.message).toContain('duplicate key "x"');
    // The same key spelled with an escape, and a duplicate inside an entry.
    await expectBadFile(
      'dup-escaped.safetensors',
      fileOf(
        header.replace('"x":{"dtype":"F32","shape":[1],"data_offsets":[4', '"\\u0078":{"dtype":"F32","shape":[1],"data_offsets":[4'),
        new Uint8Array(8),
      ),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'duplicate-key',
    );
    await expectBadFile(
      'dup-nested.safetensors',
      fileOf(`{"x":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, new Uint8Array(4)),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'duplicate-key',
    );
  });

  it('overlapping offsets, gaps, offsets past the data and trailing bytes', async () => {
    const data = new Uint8Array(8);
    await expectBadFile(
      'overlap.safetensors',
      fileOf({ a: f32([2], [0, 8]), b: f32([1], [4, 8]) }, data),
      'UNLEARN_CHECKPOINT_CORRUPT',
      'overlap',
    );
    await expectBadFile('gap.safetensors', fileOf({ a: f32([1], [0, 4]), b: f32([0], [8, 8]) }, data), 'UNLEARN_CHECKPOINT_CORRUPT', 'gap');
    await expectBadFile('range.safetensors', fileOf({ a: f32([3], [0, 12]) }, data), 'UNLEARN_CHECKPOINT_CORRUPT', 'out-of-range');
    await expectBadFile('trailing.safetensors', fileOf({ a: f32([1], [0, 4]) }, data), 'UNLEARN_CHECKPOINT_CORRUPT', 'trailing-bytes');
    await expectBadFile('reversed.safetensors', fileOf({ a: f32([0], [4, 0]) }, data), 'UNLEARN_CHECKPOINT_CORRUPT');
  });

  it('a header that is not UTF-8 JSON of the expected form', async () => {
    await expectBadFile(
      'utf8.safetensors',
      fileOf('{}').map((b, i) => (i === 8 ? 0xff : b)),
      'UNLEARN_CHECKPOINT_CORRUPT',
    );
    await expectBadFile('json.safetensors', fileOf('{"x": '), 'UNLEARN_CHECKPOINT_CORRUPT', 'invalid-json');
    await expectBadFile('array.safetensors', fileOf('[]'), 'UNLEARN_CHECKPOINT_CORRUPT');
    await expectBadFile('meta.safetensors', fileOf({ __metadata__: { n: 3 } }), 'UNLEARN_CHECKPOINT_CORRUPT');
    await expectBadFile(
      'entry.safetensors',
      fileOf({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }),
      'UNLEARN_CHECKPOINT_CORRUPT',
    );
  });

  it('accepts what the specification allows: an empty file header, padding, zero-size tensors', () => {
    expect(decodeSafetensors(fileOf('{}       ')).tensors.size).toBe(0);
    const { tensors } = decodeSafetensors(fileOf({ e: f32([0, 3], [0, 0]), a: f32([1], [0, 4]) }, bytesLE([2], 4, 'float')));
    expect([...tensors.keys()]).toEqual(['e', 'a']);
    expect(tensors.get('a')?.data).toEqual(Float32Array.of(2));
  });

  it('a missing file', async () => {
    const file = path.join(dir, 'nope.safetensors');
    const err = await expectUnlearnError(() => readSafetensors(file), 'UNLEARN_CHECKPOINT_MISSING');
    expect(err.details.file).toBe(file);
  });
});
