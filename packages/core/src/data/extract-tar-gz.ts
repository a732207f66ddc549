import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { UnlearnError } from '../errors/unlearn-error.js';

/** One file extracted to a temporary path, with the SHA-256 of its bytes. */
export type ExtractedFile = { readonly name: string; readonly tempPath: string; readonly sha256: string; readonly size: number };

/** Thrown inside the reader when the archive ends early; mapped to UNLEARN_DATA_CORRUPT. */
class TruncatedError extends Error {}

/** Pull-style reader over an async iterable of chunks (the gunzip output). */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  /** Up to `n` bytes; an empty buffer only at the end of the stream. */
  async readUpTo(n: number): Promise<Buffer> {
    if (this.buf.length === 0 && !(await this.fill())) return Buffer.alloc(0);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes, `null` when the stream ended before any, or throws when it ended midway. */
  async readExact(n: number, what: string): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return null;
        throw new TruncatedError(`${what}: needed ${n} bytes, only ${this.buf.length} present`);
      }
    }
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Skip exactly `n` bytes or throw when the stream ends first. */
  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const chunk = await this.readUpTo(Math.min(left, 1 << 20));
      if (chunk.length === 0) throw new TruncatedError(`${what}: ${n - left} of ${n} bytes present`);
      left -= chunk.length;
    }
  }
}

function cString(b: Buffer, start: number, end: number): string {
  const slice = b.subarray(start, end);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString('utf8');
}

/** Numeric tar field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function tarNumber(b: Buffer, start: number, len: number): number {
  if ((b[start] & 0x80) !== 0) {
    let v = b[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i];
    return v;
  }
  const text = cString(b, start, start + len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return Number.NaN;
  return Number.parseInt(text, 8);
}

function headerChecksumOk(h: Buffer): boolean {
  const stored = tarNumber(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return stored === sum;
}

function paxPath(data: Buffer): string | undefined {
  // Records are "<len> <key>=<value>\n"; only `path` matters here.
  let off = 0;
  let path: string | undefined;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp === -1) break;
    const len = Number.parseInt(data.subarray(off, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq !== -1 && rec.slice(0, eq) === 'path') path = rec.slice(eq + 1);
    off += len;
  }
  return path;
}

/**
 * Stream a `.tar.gz` and write the wanted regular files found directly under `folder/` to
 * temporary files in `dir`, hashing them on the way.
 *
 * @param archivePath - the gzip-compressed tar archive
 * @param dir - where the temporary files go (same folder as the final files, so a rename is atomic)
 * @param folder - the folder inside the archive, e.g. `cifar-10-batches-bin`
 * @param wanted - base names to extract; every other entry is skipped
 * @param onProgress - compressed-archive bytes read so far (not exact: gunzip reads ahead)
 * @returns the extracted files, by base name; the caller renames or deletes the temporary files
 * @throws UnlearnError `UNLEARN_DATA_CORRUPT` when gunzip fails, a header is malformed, or an
 *   entry claims more bytes than the archive holds; no temporary file is left behind then
 * @remarks A minimal ustar reader: 512-byte headers (name, size in octal, type flag, ustar
 *   prefix), GNU long names (`L`) and pax `path` records; links, folders and other types are
 *   skipped.
 */
export async function extractTarGz(
  archivePath: string,
  dir: string,
  folder: string,
  wanted: ReadonlySet<string>,
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, ExtractedFile>> {
  const found = new Map<string, ExtractedFile>();
  const temps: string[] = [];
  let counter = 0;
  const { size: total } = await stat(archivePath);
  let readBytes = 0;
  const source = createReadStream(archivePath, { highWaterMark: 1 << 20 });
  source.on('data', (c) => {
    readBytes += c.length;
    onProgress?.(readBytes, total);
  });

  // Consume gunzip in this function (not in a pipeline callback) so that, when it fails, the
  // cleanup below runs only after the loop stopped creating temporary files.
  const gunzip = createGunzip();
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  try {
    const reader = new ByteReader(gunzip[Symbol.asyncIterator]());
    let longName: string | undefined;
    for (;;) {
      const h = await reader.readExact(512, 'tar header');
      if (h === null) break;
      if (h.every((b) => b === 0)) {
        // End-of-archive block: drain the padding so gunzip still checks the stream's end.
        while ((await reader.readUpTo(1 << 20)).length > 0);
        break;
      }
      if (!headerChecksumOk(h)) throw new UnlearnError('UNLEARN_DATA_CORRUPT', 'bad tar header checksum');
      const size = tarNumber(h, 124, 12);
      if (!Number.isFinite(size) || size < 0) throw new UnlearnError('UNLEARN_DATA_CORRUPT', 'bad tar size field');
      const type = String.fromCharCode(h[156]);
      const magic = h.subarray(257, 263).toString('latin1');
      let name = cString(h, 0, 100);
      // Only POSIX ustar has a prefix field; GNU tar keeps atime/ctime at that offset.
      if (magic === 'ustar\0') {
        const prefix = cString(h, 345, 500);
        if (prefix !== '') name = `${prefix}/${name}`;
      }
      if (longName !== undefined) {
        name = longName;
        longName = undefined;
      }
      const padded = Math.ceil(size / 512) * 512;
      const what = `entry "${name}" (${size} bytes)`;
      if (type === 'L' || type === 'x') {
        const data = await reader.readExact(padded, what);
        if (data === null) throw new TruncatedError(`${what}: no data`);
        const body = data.subarray(0, size);
        longName = type === 'L' ? cString(body, 0, body.length) : paxPath(body);
        continue;
      }
      const base = name.replace(/^\.\//, '').startsWith(`${folder}/`) ? name.replace(/^\.\//, '').slice(folder.length + 1) : undefined;
      const regular = type === '0' || type === '\0' || type === '7';
      if (!regular || base === undefined || !wanted.has(base)) {
        await reader.skip(padded, what);
        continue;
      }
      const tempPath = join(dir, `.${base}.${process.pid}.${Date.now()}.${counter++}.tmp`);
      temps.push(tempPath);
      const hash = createHash('sha256');
      const fh = await open(tempPath, 'w');
      try {
        let left = size;
        while (left > 0) {
          const chunk = await reader.readUpTo(Math.min(left, 1 << 20));
          if (chunk.length === 0) throw new TruncatedError(`${what}: header claims ${size} bytes, only ${size - left} present`);
          hash.update(chunk);
          await fh.write(chunk);
          left -= chunk.length;
        }
      } finally {
        await fh.close();
      }
      await reader.skip(padded - size, `${what} padding`);
      const previous = found.get(base);
      if (previous !== undefined) await rm(previous.tempPath, { force: true });
      found.set(base, { name: base, tempPath, sha256: hash.digest('hex'), size });
    }
  } catch (err) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    const reason = err instanceof Error ? err.message : String(err);
    throw new UnlearnError('UNLEARN_DATA_CORRUPT', `The archive ${archivePath} is truncated or corrupt (${reason}).`, {
      details: { file: archivePath, reason },
      cause: err,
    });
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  return found;
}
