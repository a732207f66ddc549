import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UnlearnError } from '../errors/unlearn-error.js';

/** The on-disk format version written by this release. */
export const CHECKPOINT_FORMAT_VERSION = 1;
const MAGIC = 'UNLEARNJS-CKPT\n';

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

interface Header {
  format: 'unlearnjs-checkpoint';
  formatVersion: number;
  kind: string;
  meta: Record<string, unknown>;
  arrays: Array<{ group: string; name: string; shape: number[]; offset: number; length: number }>;
  payloadBytes: number;
  sha256: string;
}

/**
 * Write a checkpoint atomically: to `<file>.<pid>.tmp`, fsync, then rename over `file`, so a
 * crash never leaves a half-written checkpoint under the real name.
 *
 * @param file - destination path (folders are created)
 * @param data - what to store
 */
export async function writeCheckpoint(file: string, data: CheckpointData): Promise<void> {
  const arrays: Header['arrays'] = [];
  let bytes = 0;
  for (const [group, m] of Object.entries(data.groups)) {
    for (const [name, a] of m) {
      arrays.push({ group, name, shape: a.shape, offset: bytes, length: a.data.length });
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
    sha256: createHash('sha256').update(payload).digest('hex'),
  };
  const headerBuf = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBuf.length);
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writev([Buffer.from(MAGIC), len, headerBuf, payload]);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/**
 * Read a checkpoint written by {@link writeCheckpoint}, verifying its magic, version and checksum.
 *
 * @param file - path
 * @param expectedKind - when given, the `kind` it must have
 * @returns the stored data (plain arrays; nothing to dispose)
 * @throws UnlearnError `UNLEARN_CHECKPOINT_MISSING` (no file), `UNLEARN_CHECKPOINT_CORRUPT` (bad magic,
 *   truncated, checksum mismatch), `UNLEARN_CHECKPOINT_INCOMPATIBLE` (newer format or other kind)
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
  const corrupt = (why: string) =>
    new UnlearnError(
      'UNLEARN_CHECKPOINT_CORRUPT',
      `Checkpoint ${file} is not a valid unlearnjs checkpoint (${why}); delete it and re-run the step.`,
      {
        details: { file, why },
      },
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
  if (header.format !== 'unlearnjs-checkpoint') throw corrupt('foreign format');
  if (header.formatVersion > CHECKPOINT_FORMAT_VERSION) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `Checkpoint ${file} has format version ${header.formatVersion}; this version of unlearnjs reads up to ${CHECKPOINT_FORMAT_VERSION}. Upgrade @unlearnjs/core.`,
      { details: { file, formatVersion: header.formatVersion } },
    );
  }
  if (expectedKind !== undefined && header.kind !== expectedKind) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `Checkpoint ${file} is a "${header.kind}" checkpoint, expected "${expectedKind}".`,
      {
        details: { file, kind: header.kind, expectedKind },
      },
    );
  }
  const pstart = hstart + hlen;
  if (buf.length - pstart !== header.payloadBytes) throw corrupt('truncated payload');
  const payload = buf.subarray(pstart);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) throw corrupt('checksum mismatch');
  const aligned = new Float32Array(header.payloadBytes / 4);
  new Uint8Array(aligned.buffer).set(payload);
  const groups: CheckpointData['groups'] = {};
  for (const a of header.arrays) {
    groups[a.group] ??= new Map();
    groups[a.group].set(a.name, { shape: a.shape, data: aligned.subarray(a.offset / 4, a.offset / 4 + a.length) });
  }
  return { kind: header.kind, meta: header.meta, groups };
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
 * Write a text file atomically (temp file + rename).
 * @param file - destination
 * @param text - content
 */
export async function writeFileAtomic(file: string, text: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}
