import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UnlearnError } from '../errors/unlearn-error.js';
import { removeStaleTempFilesOf } from './remove-stale-temp-files.js';

/**
 * The on-disk format version written by this release.
 *
 * @remarks Version 2 ends the file with a SHA-256 of every byte before it, so the header
 * (shapes, offsets, kind, meta) is covered as well as the payload; version 1 checksummed only
 * the payload. Both are read; a version-1 header is validated strictly against its payload.
 */
export const CHECKPOINT_FORMAT_VERSION = 2;
const MAGIC = 'UNLEARNJS-CKPT\n';
const DIGEST_BYTES = 32;

/** One stored array. */
export interface StoredArray {
  shape: number[];
  data: Float32Array;
}

/**
 * The content of a checkpoint: named float32 arrays in groups (`params`, `buffers`, `masks`,
 * `optimizer`, `adapter`, ...) and a JSON `meta` object (epoch, RNG state, config, round...).
 */
export interface CheckpointData {
  /** What kind of run wrote it, e.g. `train`, `prune-round`, `unlearn`. */
  kind: string;
  /** Any JSON-serialisable metadata. */
  meta: Record<string, unknown>;
  /** group → name → array. */
  groups: Record<string, Map<string, StoredArray>>;
}

interface ArrayEntry {
  group: string;
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

interface Header {
  format: 'unlearnjs-checkpoint';
  formatVersion: number;
  kind: string;
  meta: Record<string, unknown>;
  arrays: ArrayEntry[];
  payloadBytes: number;
  /** Version 1 only: SHA-256 of the payload (version 2 has a digest of the whole file at its end). */
  sha256?: string;
}

/**
 * Write a checkpoint atomically: to `<file>.<pid>.tmp`, fsync, then rename over `file`, so a
 * crash never leaves a half-written checkpoint under the real name. Temp files of `file` left
 * by writers that are no longer running are removed first.
 *
 * @param file - destination path (folders are created)
 * @param data - what to store
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when an array's data length is not the
 *   product of its shape (the file could not be read back)
 */
export async function writeCheckpoint(file: string, data: CheckpointData): Promise<void> {
  const arrays: ArrayEntry[] = [];
  let bytes = 0;
  for (const [group, m] of Object.entries(data.groups)) {
    for (const [name, a] of m) {
      const expected = a.shape.reduce((x, y) => x * y, 1);
      if (!a.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || expected !== a.data.length) {
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          `Cannot write ${file}: array "${group}/${name}" has shape [${a.shape}] but ${a.data.length} values.`,
          { details: { file, tensor: `${group}/${name}`, shape: [...a.shape], length: a.data.length } },
        );
      }
      arrays.push({ group, name, shape: [...a.shape], offset: bytes, length: a.data.length });
      bytes += a.data.length * 4;
    }
  }
  const payload = Buffer.alloc(bytes);
  let i = 0;
  for (const m of Object.values(data.groups)) {
    for (const a of m.values()) {
      const src = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
      src.copy(payload, arrays[i].offset);
      i++;
    }
  }
  const header: Header = {
    format: 'unlearnjs-checkpoint',
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    kind: data.kind,
    meta: data.meta,
    arrays,
    payloadBytes: bytes,
  };
  const headerBuf = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBuf.length);
  const parts = [Buffer.from(MAGIC), len, headerBuf, payload];
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  parts.push(hash.digest());
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await removeStaleTempFilesOf(file);
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writev(parts);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/**
 * Read a checkpoint written by {@link writeCheckpoint} (format version 1 or 2), verifying its
 * magic, version, checksum, that every array's shape, offset and length fit the payload, and
 * that every value is finite.
 *
 * @param file - path
 * @param expectedKind - when given, the `kind` it must have
 * @returns the stored data (plain arrays; nothing to dispose)
 * @throws UnlearnError `UNLEARN_CHECKPOINT_MISSING` (no file); `UNLEARN_CHECKPOINT_CORRUPT` (bad
 *   magic, truncated, checksum mismatch, a header that does not fit the payload; `details.tensor`
 *   names the array when one is at fault); `UNLEARN_CHECKPOINT_INCOMPATIBLE` (newer format or
 *   other kind); `UNLEARN_NON_FINITE_WEIGHTS` (a NaN/±Inf value in any array, weights, buffers,
 *   masks or optimizer state alike; `details.tensor` is `group/name`)
 */
export async function readCheckpoint(file: string, expectedKind?: string): Promise<CheckpointData> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch (cause) {
    throw new UnlearnError('UNLEARN_CHECKPOINT_MISSING', `No checkpoint at ${file}; check the path or run the step that writes it.`, {
      details: { file },
      cause,
    });
  }
  const corrupt = (why: string, tensor?: string) =>
    new UnlearnError(
      'UNLEARN_CHECKPOINT_CORRUPT',
      `Checkpoint ${file} is not a valid unlearnjs checkpoint (${tensor === undefined ? '' : `array "${tensor}": `}${why}); delete it and re-run the step.`,
      { details: tensor === undefined ? { file, why } : { file, why, tensor } },
    );
  if (buf.length < MAGIC.length + 4 || buf.subarray(0, MAGIC.length).toString('utf8') !== MAGIC) throw corrupt('bad magic');
  const hlen = buf.readUInt32LE(MAGIC.length);
  const hstart = MAGIC.length + 4;
  if (hstart + hlen > buf.length) throw corrupt('truncated header');
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(hstart, hstart + hlen).toString('utf8')) as Header;
  } catch {
    throw corrupt('unreadable header');
  }
  if (!isRecord(header) || header.format !== 'unlearnjs-checkpoint') throw corrupt('foreign format');
  const version = header.formatVersion;
  if (!Number.isSafeInteger(version) || version < 1) throw corrupt(`format version ${JSON.stringify(version)}`);
  if (version > CHECKPOINT_FORMAT_VERSION) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `Checkpoint ${file} has format version ${version}; this version of unlearnjs reads up to ${CHECKPOINT_FORMAT_VERSION}. Upgrade @unlearnjs/core.`,
      { details: { file, formatVersion: version } },
    );
  }
  const pstart = hstart + hlen;
  let pend = buf.length;
  if (version >= 2) {
    // Verify before trusting anything in the header: a flipped shape digit would otherwise
    // surface later as a tfjs size error, or not at all.
    pend = buf.length - DIGEST_BYTES;
    if (pend < pstart) throw corrupt('truncated payload');
    const digest = createHash('sha256').update(buf.subarray(0, pend)).digest();
    if (!digest.equals(buf.subarray(pend))) throw corrupt('checksum mismatch');
  }
  if (typeof header.kind !== 'string') throw corrupt('header has no kind');
  if (!isRecord(header.meta)) throw corrupt('header meta is not an object');
  const payloadBytes = header.payloadBytes;
  if (!Number.isSafeInteger(payloadBytes) || payloadBytes < 0 || payloadBytes % 4 !== 0) {
    throw corrupt(`payload size ${JSON.stringify(payloadBytes)} is not a whole number of float32 values`);
  }
  if (pend - pstart !== payloadBytes) throw corrupt(`truncated payload: ${pend - pstart} bytes, header says ${payloadBytes}`);
  const payload = buf.subarray(pstart, pend);
  if (version === 1 && createHash('sha256').update(payload).digest('hex') !== header.sha256) throw corrupt('checksum mismatch');
  const entries = checkLayout(header.arrays, payloadBytes, corrupt);
  if (expectedKind !== undefined && header.kind !== expectedKind) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `Checkpoint ${file} is a "${header.kind}" checkpoint, expected "${expectedKind}".`,
      {
        details: { file, kind: header.kind, expectedKind },
      },
    );
  }
  const aligned = new Float32Array(payloadBytes / 4);
  new Uint8Array(aligned.buffer).set(payload);
  const groups = new Map<string, Map<string, StoredArray>>();
  for (const a of entries) {
    const data = aligned.subarray(a.offset / 4, a.offset / 4 + a.length);
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      const tensor = `${a.group}/${a.name}`;
      throw new UnlearnError(
        'UNLEARN_NON_FINITE_WEIGHTS',
        `Checkpoint ${file} holds ${data[bad]} at index ${bad} of "${tensor}": the run that wrote it diverged or the file was edited. ` +
          'Re-run the step that writes it (with a lower learning rate if training diverged).',
        { details: { file, tensor, group: a.group, name: a.name, index: bad, value: data[bad] } },
      );
    }
    let g = groups.get(a.group);
    if (!g) groups.set(a.group, (g = new Map()));
    g.set(a.name, { shape: a.shape, data });
  }
  // fromEntries defines own properties, so a group called "__proto__" cannot reach the prototype.
  return { kind: header.kind, meta: header.meta, groups: Object.fromEntries(groups) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/**
 * Check the header's array list against the payload: every entry names its array, its shape
 * holds exactly `length` values, and the arrays tile the payload in order with no gap or
 * overlap (as {@link writeCheckpoint} lays them out), so nothing reads past the data or
 * another array's bytes.
 */
function checkLayout(arrays: unknown, payloadBytes: number, corrupt: (why: string, tensor?: string) => UnlearnError): ArrayEntry[] {
  if (!Array.isArray(arrays)) throw corrupt('header has no array list');
  const seen = new Set<string>();
  const out: ArrayEntry[] = [];
  let next = 0;
  for (const [i, a] of arrays.entries()) {
    if (!isRecord(a) || typeof a.group !== 'string' || typeof a.name !== 'string' || a.group === '' || a.name === '') {
      throw corrupt(`array entry ${i} has no group or name`);
    }
    const tensor = `${a.group}/${a.name}`;
    const key = `${a.group}\u0000${a.name}`; // names may hold "/"
    if (seen.has(key)) throw corrupt('stored twice', tensor);
    seen.add(key);
    const { shape, offset, length } = a;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw corrupt(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, tensor);
    }
    if (!Number.isSafeInteger(length) || (length as number) < 0) throw corrupt(`length ${JSON.stringify(length)}`, tensor);
    const size = (shape as number[]).reduce((x, y) => x * y, 1);
    if (size !== length) throw corrupt(`shape [${shape}] needs ${size} values but the header says ${length}`, tensor);
    if (offset !== next) {
      throw corrupt(`offset ${JSON.stringify(offset)} does not follow the previous array (expected ${next})`, tensor);
    }
    next += size * 4;
    if (next > payloadBytes) throw corrupt(`bytes ${offset}..${next} run past the ${payloadBytes}-byte payload`, tensor);
    out.push({ group: a.group, name: a.name, shape: [...(shape as number[])], offset: offset as number, length: size });
  }
  if (next !== payloadBytes) throw corrupt(`arrays cover ${next} of the ${payloadBytes} payload bytes`);
  return out;
}

/**
 * Whether a file exists (for resume logic).
 * @param file - path
 */
export async function fileExists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Write a text file atomically (temp file + rename). Temp files of `file` left by writers that
 * are no longer running are removed first.
 * @param file - destination
 * @param text - content
 */
export async function writeFileAtomic(file: string, text: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await removeStaleTempFilesOf(file);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}
