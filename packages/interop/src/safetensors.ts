import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError, writeFileAtomic } from '@unlearnjs/core';
import { StrictJsonError, parseStrictJson } from './strict-json.js';

/**
 * The safetensors dtypes this package reads: the float ones (converted to float32) and the
 * integer and boolean ones PyTorch state_dicts hold (`num_batches_tracked`, masks).
 */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

/** The dtypes of the safetensors specification that this package refuses to read. */
const KNOWN_UNSUPPORTED = new Set(['I8', 'I16', 'U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 };

/** Headers longer than this are refused, as the reference implementation does (100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** Length of the little-endian u64 that starts every safetensors file. */
const PREFIX_BYTES = 8;

/**
 * One tensor of a safetensors file, decoded.
 *
 * @remarks `data` is a `Float32Array` for the float dtypes (F16, BF16 and F64 converted
 * exactly where float32 can hold the value, F64 rounded to nearest), an `Int32Array` for I64
 * and I32, a `Uint8Array` (0/1 for BOOL) for U8 and BOOL. Values are row-major in `shape`.
 */
export interface SafetensorsArray {
  /** The dtype stored in the file. */
  readonly dtype: SafetensorsDtype;
  /** The tensor's shape (`[]` for a scalar). */
  readonly shape: readonly number[];
  /** The values, row-major. */
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/** What a safetensors file holds. */
export interface SafetensorsContent {
  /** Tensors by name, in the order of their bytes in the file. Plain arrays: nothing to dispose. */
  readonly tensors: Map<string, SafetensorsArray>;
  /** The header's `__metadata__` (string to string); empty when absent. */
  readonly metadata: Record<string, string>;
}

/** Options of {@link readSafetensors} and {@link decodeSafetensors}. */
export interface ReadSafetensorsOptions {
  /** How errors name the source. @defaultValue the file path, or `'safetensors bytes'` */
  name?: string;
}

/**
 * A tensor to write: a tfjs tensor (float32 is written F32, int32 I64), or values with a shape
 * (a `Float32Array` is written F32, an `Int32Array` I64).
 */
export type SafetensorsWritable = tf.Tensor | { readonly shape: readonly number[]; readonly data: Float32Array | Int32Array };

/** One validated header entry. */
interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function corrupt(file: string, what: string, details: Record<string, unknown> = {}): UnlearnError {
  return new UnlearnError(
    'UNLEARN_CHECKPOINT_CORRUPT',
    `${file} is not a valid safetensors file: ${what}. Re-export it (safetensors.torch.save_file), or check that the download or copy completed.`,
    { details: { file, ...details } },
  );
}

function isSupported(dtype: string): dtype is SafetensorsDtype {
  return Object.hasOwn(BYTES_PER_ELEMENT, dtype);
}

/**
 * Check a header against the specification and the size of the byte buffer that follows it.
 * Every size is checked here, before any tensor memory is allocated.
 */
function parseHeader(headerBytes: Uint8Array, bufferBytes: number, file: string): { entries: Entry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (err) {
    throw corrupt(file, 'its header is not valid UTF-8', { cause: String(err) });
  }
  let header: unknown;
  try {
    header = parseStrictJson(text);
  } catch (err) {
    if (err instanceof StrictJsonError) {
      const duplicate = err.message.startsWith('duplicate key');
      throw corrupt(file, `its JSON header has ${err.message}`, {
        reason: duplicate ? 'duplicate-key' : 'invalid-json',
        offset: err.offset,
      });
    }
    throw err;
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw corrupt(file, 'its header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw corrupt(file, '"__metadata__" is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw corrupt(file, `"__metadata__.${k}" is not a string`, { key: k });
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value, file));
  }
  // The specification: tensors are contiguous, without holes or overlaps, and fill the buffer.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.end > bufferBytes) {
      throw corrupt(file, `tensor "${e.name}" ends at byte ${e.end} but the data section has ${bufferBytes} bytes`, {
        tensor: e.name,
        reason: 'out-of-range',
      });
    }
    if (e.begin < at)
      throw corrupt(file, `tensor "${e.name}" overlaps the tensor before it (begins at ${e.begin}, before ${at})`, {
        tensor: e.name,
        reason: 'overlap',
      });
    if (e.begin > at)
      throw corrupt(file, `bytes ${at} to ${e.begin} of the data section belong to no tensor (before "${e.name}")`, {
        tensor: e.name,
        reason: 'gap',
      });
    at = e.end;
  }
  if (at !== bufferBytes) {
    throw corrupt(file, `its tensors cover ${at} bytes but the data section has ${bufferBytes}`, {
      reason: at < bufferBytes ? 'trailing-bytes' : 'out-of-range',
    });
  }
  return { entries: sorted, metadata };
}

function parseEntry(name: string, value: unknown, file: string): Entry {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw corrupt(file, `the entry of "${name}" is not an object`, { tensor: name });
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw corrupt(file, `tensor "${name}" has no dtype`, { tensor: name });
  if (!isSupported(dtype)) {
    if (KNOWN_UNSUPPORTED.has(dtype)) {
      throw new UnlearnError(
        'UNLEARN_CHECKPOINT_INCOMPATIBLE',
        `${file}: tensor "${name}" is ${dtype}, which unlearnjs does not read (it reads F32, F16, BF16, F64, I64, I32, U8 and BOOL); convert it in PyTorch (tensor.float()) and save again.`,
        { details: { file, tensor: name, dtype } },
      );
    }
    throw corrupt(file, `tensor "${name}" has the unknown dtype ${JSON.stringify(dtype)}`, {
      tensor: name,
      dtype,
      reason: 'unknown-dtype',
    });
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw corrupt(file, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`, { tensor: name });
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw corrupt(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`, { tensor: name });
  }
  const [begin, end] = offsets as [number, number];
  // In floating point a huge shape only loses precision in the product, never shrinks it
  // below the true byte count, so a claim of terabytes cannot slip through as a small one.
  const elements = shape.reduce((a: number, d: number) => a * d, 1);
  const bytes = elements * BYTES_PER_ELEMENT[dtype];
  if (bytes !== end - begin) {
    throw corrupt(
      file,
      `tensor "${name}" is ${dtype} of shape [${shape}] (${bytes} bytes) but its data_offsets span ${end - begin} bytes`,
      {
        tensor: name,
        reason: 'shape-mismatch',
      },
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function decodeEntry(e: Entry, bytes: Uint8Array, file: string): SafetensorsArray {
  const n = e.shape.reduce((a, d) => a * d, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let data: Float32Array | Int32Array | Uint8Array;
  switch (e.dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      data = out;
      break;
    }
    case 'F64': {
      // Assigning to a Float32Array rounds to nearest, ties to even (IEEE 754 conversion).
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      data = out;
      break;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      data = out;
      break;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift its bits into place.
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      data = new Float32Array(bits.buffer);
      break;
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new UnlearnError(
            'UNLEARN_CHECKPOINT_INCOMPATIBLE',
            `${file}: tensor "${e.name}" holds ${v} at index ${i}, outside the int32 range unlearnjs reads I64 into.`,
            { details: { file, tensor: e.name, index: i, value: v.toString() } },
          );
        }
        out[i] = Number(v);
      }
      data = out;
      break;
    }
    case 'I32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      data = out;
      break;
    }
    case 'U8':
      data = bytes.slice(0, n);
      break;
    case 'BOOL': {
      const out = bytes.slice(0, n);
      const bad = out.findIndex((v) => v > 1);
      if (bad >= 0)
        throw corrupt(file, `BOOL tensor "${e.name}" holds the byte ${out[bad]} at index ${bad}`, { tensor: e.name, index: bad });
      data = out;
      break;
    }
  }
  return { dtype: e.dtype, shape: e.shape, data };
}

/**
 * The float32 value of an IEEE 754 half-precision number (exact: every half is a float32).
 * @param h - the 16 bits
 * @returns the value
 * @internal
 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** The header length in the first 8 bytes, checked against the bytes that follow them. */
function headerLength(prefix: Uint8Array, total: number, file: string): number {
  const n = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getBigUint64(0, true);
  if (n > BigInt(total - PREFIX_BYTES)) {
    throw corrupt(file, `its header claims ${n} bytes but only ${total - PREFIX_BYTES} follow the length prefix`, {
      reason: 'header-past-end',
      headerBytes: n.toString(),
      fileBytes: total,
    });
  }
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw corrupt(file, `its header claims ${n} bytes, more than the ${SAFETENSORS_MAX_HEADER_BYTES} the format allows`, {
      reason: 'header-too-large',
      headerBytes: n.toString(),
    });
  }
  return Number(n);
}

function truncated(file: string, total: number): UnlearnError {
  return corrupt(file, `it has ${total} bytes, fewer than the 8-byte header length`, { reason: 'truncated', fileBytes: total });
}

/**
 * Decode safetensors bytes (already in memory).
 *
 * @param bytes - the whole file
 * @param options - how errors name the source
 * @returns the tensors (plain arrays: nothing to dispose) and the metadata
 * @throws UnlearnError `UNLEARN_CHECKPOINT_CORRUPT` when the bytes break the format (fewer than
 *   8, a header length past the end, invalid UTF-8 or JSON, a duplicate key, an unknown dtype,
 *   a shape that disagrees with the byte length, offsets out of range, overlapping or leaving
 *   gaps); `UNLEARN_CHECKPOINT_INCOMPATIBLE` for a dtype of the specification that is not read
 *   (see {@link SafetensorsDtype}) or an I64 value outside int32. `details.file` names the source.
 */
export function decodeSafetensors(bytes: Uint8Array, options: ReadSafetensorsOptions = {}): SafetensorsContent {
  const file = options.name ?? 'safetensors bytes';
  if (bytes.byteLength < PREFIX_BYTES) throw truncated(file, bytes.byteLength);
  const n = headerLength(bytes, bytes.byteLength, file);
  const start = PREFIX_BYTES + n;
  const { entries, metadata } = parseHeader(bytes.subarray(PREFIX_BYTES, start), bytes.byteLength - start, file);
  const tensors = new Map<string, SafetensorsArray>();
  for (const e of entries) tensors.set(e.name, decodeEntry(e, bytes.subarray(start + e.begin, start + e.end), file));
  return { tensors, metadata };
}

/** Read exactly `length` bytes at `position`, or fail as truncated (the file shrank). */
async function readExactly(handle: fs.FileHandle, length: number, position: number, file: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw corrupt(file, `it ended after ${position + done} bytes while being read`, { reason: 'truncated' });
    done += bytesRead;
  }
  return out;
}

/**
 * Read a safetensors file, or decode safetensors bytes.
 *
 * @param source - a file path, or the file's bytes
 * @param options - how errors name the source
 * @returns the tensors (plain arrays: nothing to dispose) and the `__metadata__`
 * @throws UnlearnError `UNLEARN_CHECKPOINT_MISSING` when the file does not exist; what
 *   {@link decodeSafetensors} throws for a malformed file. Every error names the file.
 * @remarks
 * Follows the safetensors specification: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON (`{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": {...} }`,
 * offsets relative to the data section), then the data section, little-endian. From a path the
 * header is read first and checked against the file's size, then each tensor's bytes are read
 * one at a time: a file that claims more than it holds fails before anything of that size is
 * allocated.
 * @example
 * ```ts
 * const { tensors, metadata } = await readSafetensors('model.safetensors');
 * console.log(tensors.get('fc.weight')?.shape, metadata);
 * ```
 */
export async function readSafetensors(source: string | Uint8Array, options: ReadSafetensorsOptions = {}): Promise<SafetensorsContent> {
  if (typeof source !== 'string') return decodeSafetensors(source, options);
  const file = options.name ?? source;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(source, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UnlearnError('UNLEARN_CHECKPOINT_MISSING', `${file} does not exist; check the path.`, { details: { file }, cause: err });
    }
    throw err;
  }
  try {
    const total = (await handle.stat()).size;
    if (total < PREFIX_BYTES) throw truncated(file, total);
    const n = headerLength(await readExactly(handle, PREFIX_BYTES, 0, file), total, file);
    const start = PREFIX_BYTES + n;
    const { entries, metadata } = parseHeader(await readExactly(handle, n, PREFIX_BYTES, file), total - start, file);
    const tensors = new Map<string, SafetensorsArray>();
    for (const e of entries) tensors.set(e.name, decodeEntry(e, await readExactly(handle, e.end - e.begin, start + e.begin, file), file));
    return { tensors, metadata };
  } finally {
    await handle.close();
  }
}

/**
 * Make tfjs tensors of decoded safetensors arrays: floats as float32, I64/I32/U8 as int32, BOOL
 * as bool.
 *
 * @param tensors - from {@link readSafetensors}
 * @returns name → tensor; the caller disposes every one
 */
export function safetensorsToTensors(tensors: ReadonlyMap<string, SafetensorsArray>): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, a] of tensors) {
    const shape = [...a.shape];
    if (a.dtype === 'BOOL') out.set(name, tf.tensor(a.data, shape, 'bool'));
    else if (a.data instanceof Float32Array) out.set(name, tf.tensor(a.data, shape, 'float32'));
    else out.set(name, tf.tensor(Int32Array.from(a.data), shape, 'int32'));
  }
  return out;
}

interface Prepared {
  name: string;
  dtype: 'F32' | 'I64';
  shape: number[];
  data: Float32Array | Int32Array;
}

function prepare(name: string, t: SafetensorsWritable): Prepared {
  const bad = (what: string) =>
    new UnlearnError('UNLEARN_INVALID_OPTIONS', `Cannot write tensor "${name}" to safetensors: ${what}.`, { details: { tensor: name } });
  if (name === '__metadata__') throw bad('the name is reserved for the header metadata');
  if (t instanceof tf.Tensor) {
    if (t.dtype === 'float32') return { name, dtype: 'F32', shape: [...t.shape], data: t.dataSync() as Float32Array };
    if (t.dtype === 'int32') return { name, dtype: 'I64', shape: [...t.shape], data: t.dataSync() as Int32Array };
    throw bad(`its dtype is ${t.dtype}; unlearnjs writes float32 (F32) and int32 (as I64) tensors`);
  }
  const shape = [...t.shape];
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || shape.reduce((a, d) => a * d, 1) !== t.data.length) {
    throw bad(`shape [${shape}] does not hold ${t.data.length} values`);
  }
  if (t.data instanceof Float32Array) return { name, dtype: 'F32', shape, data: t.data };
  if (t.data instanceof Int32Array) return { name, dtype: 'I64', shape, data: t.data };
  throw bad('its data is neither a Float32Array nor an Int32Array');
}

/**
 * Encode tensors as safetensors bytes: float32 as F32, int32 as I64.
 *
 * @param tensors - name → tensor (tfjs tensors are read, not disposed)
 * @param metadata - the header's `__metadata__` (strings only)
 * @returns the file's bytes
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for another dtype, the reserved name
 *   `__metadata__`, a shape that does not match the data, or a metadata value that is not a string
 * @remarks As the reference implementation: the JSON header is padded with spaces so that the
 * data section starts 8-byte aligned, the 8-byte (I64) tensors come first so that every tensor
 * is aligned to its element size, tensors are contiguous, offsets are relative to the data section.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsWritable>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `safetensors metadata "${k}" must be a string (JSON.stringify it).`, {
        details: { key: k },
      });
    }
  }
  const prepared = [...tensors].map(([name, t]) => prepare(name, t));
  const ordered = [...prepared.filter((p) => p.dtype === 'I64'), ...prepared.filter((p) => p.dtype === 'F32')];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const p of ordered) {
    const bytes = p.data.length * (p.dtype === 'I64' ? 8 : 4);
    header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(PREFIX_BYTES + headerBytes + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes), true);
  out.set(json, PREFIX_BYTES);
  out.fill(0x20, PREFIX_BYTES + json.length, PREFIX_BYTES + headerBytes);
  let at = PREFIX_BYTES + headerBytes;
  for (const p of ordered) {
    if (p.dtype === 'I64') {
      for (let i = 0; i < p.data.length; i++, at += 8) view.setBigInt64(at, BigInt(p.data[i]), true);
    } else {
      for (let i = 0; i < p.data.length; i++, at += 4) view.setFloat32(at, p.data[i], true);
    }
  }
  return out;
}

/**
 * Write tensors to a safetensors file, atomically (a temp file renamed over `file`).
 *
 * @param file - destination path (folders are created)
 * @param tensors - name → tensor: float32 is written F32, int32 I64 (tfjs tensors are read, not disposed)
 * @param metadata - the header's `__metadata__` (strings only)
 * @throws UnlearnError what {@link encodeSafetensors} throws
 * @example
 * ```ts
 * await writeSafetensors('weights.safetensors', new Map([['w', tf.ones([2, 3])]]), { format: 'pt' });
 * ```
 */
export async function writeSafetensors(
  file: string,
  tensors: ReadonlyMap<string, SafetensorsWritable>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
