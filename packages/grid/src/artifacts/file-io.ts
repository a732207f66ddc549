/**
 * Streaming file helpers the artifact stores share (not exported from the package): every
 * artifact can be a multi-hundred-MB checkpoint, so nothing here reads a whole file into memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Read size of the streaming copies: large enough to keep a disk or NFS busy, small in memory. */
const READ_BYTES = 1 << 20;

/**
 * A temp file name next to `target`, unique to this call: `<target>.<random>-part.<pid>.tmp`.
 * @remarks The `.<pid>.tmp` ending is the one `removeStaleTempFiles` of `@unlearnjs/core`
 * recognises, so a resumed run cleans what a killed reader left in its output folder; the
 * random part keeps two concurrent reads of the same target apart.
 */
export function tempPathFor(target: string): string {
  return `${target}.${randomBytes(6).toString('hex')}-part.${process.pid}.tmp`;
}

/** Write all of `buf` (a regular-file write may be short, so loop). */
export async function writeAll(fh: fs.FileHandle, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.byteLength) {
    const { bytesWritten } = await fh.write(buf, off, buf.byteLength - off);
    off += bytesWritten;
  }
}

/** Remove a file that may not be there. */
export async function unlinkQuietly(file: string): Promise<void> {
  await fs.rm(file, { force: true }).catch(() => undefined);
}

/**
 * Flush a folder's entries (a rename into it) to disk, best effort: some file systems (NFS
 * without `sync`, Windows) cannot open a folder for fsync, and the rename is already atomic.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Durability of the folder entry only; the data itself was fsynced before the rename.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Size and SHA-256 of what was streamed. */
export interface Digest {
  size: number;
  sha256: string;
}

/**
 * Stream `src` into a new file `dest` (which must not exist), hashing on the way, and fsync it.
 * On any failure `dest` is removed.
 * @returns the size and SHA-256 of the bytes written
 */
export async function copyHashing(src: string, dest: string): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  const out = await fs.open(dest, 'wx');
  try {
    for await (const chunk of createReadStream(src, { highWaterMark: READ_BYTES }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.byteLength;
      await writeAll(out, chunk);
    }
    await out.sync();
    await out.close();
  } catch (err) {
    await out.close().catch(() => undefined);
    await unlinkQuietly(dest);
    throw err;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Size and SHA-256 of a file, streamed.
 * @returns `undefined` when the file does not exist
 */
export async function hashFile(file: string): Promise<Digest | undefined> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_BYTES }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { size, sha256: hash.digest('hex') };
}

/** Make the folder that will hold `file`. */
export async function ensureParent(file: string): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
}
