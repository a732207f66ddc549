import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { UnlearnError } from '../errors/unlearn-error.js';

/** One file extracted to a temporary path, with the SHA-256 of its bytes. */
export type ExtractedFile = { readonly name: string; readonly tempPath: string; readonly sha256: string; readonly size: number };

/** An entry that ended before the size its header claims. */
class ShortEntryError extends Error {}

/** Entry types whose body is the file's bytes; links, folders and devices are never written. */
const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Stream a `.tar.gz` and write the wanted regular files found directly under `folder/` to
 * temporary files in `dir`, hashing them on the way.
 *
 * @param archivePath - the gzip-compressed tar archive
 * @param dir - where the temporary files go (same folder as the final files, so a rename is atomic)
 * @param folder - the folder inside the archive, e.g. `cifar-10-batches-bin`
 * @param wanted - base names to extract; every other entry is skipped
 * @param onProgress - compressed-archive bytes read so far (not exact: the parser reads ahead)
 * @returns the extracted files, by base name; the caller renames or deletes the temporary files
 * @throws UnlearnError `UNLEARN_DATA_CORRUPT` when gunzip fails, a header is malformed, or an
 *   entry claims more bytes than the archive holds; no temporary file is left behind then
 * @remarks
 * Parsing (gzip, ustar, GNU long names, pax headers, header checksums, the decompression-ratio
 * limit) is node-tar's `Parser` in strict mode, so every warning is an error. Extraction is
 * not node-tar's: an entry's path is only ever compared with `folder/<wanted name>`, never
 * joined to a folder, so `..`, absolute paths and links cannot place a byte outside `dir`, and
 * the temporary names are ours.
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

  // Entries handed to a write and not finished yet, so a parse error can end them.
  const pending = new Set<ReadEntry>();
  const writeEntry = async (entry: ReadEntry, base: string): Promise<void> => {
    const tempPath = join(dir, `.${base}.${process.pid}.${Date.now()}.${counter++}.tmp`);
    temps.push(tempPath);
    const hash = createHash('sha256');
    let got = 0;
    const fh = await open(tempPath, 'w');
    try {
      // Async iteration pauses the entry, and the parser waits for it to drain: memory stays
      // at about one chunk however slow the disk is.
      for await (const chunk of entry) {
        hash.update(chunk);
        await fh.write(chunk);
        got += chunk.length;
      }
    } finally {
      await fh.close();
    }
    // node-tar ends a truncated entry early (and reports it too); saying how many bytes the
    // header promised is the more useful message.
    if (got !== entry.size) throw new ShortEntryError(`entry "${entry.path}" header claims ${entry.size} bytes, only ${got} present`);
    const previous = found.get(base);
    if (previous !== undefined) await rm(previous.tempPath, { force: true });
    found.set(base, { name: base, tempPath, sha256: hash.digest('hex'), size: got });
  };

  // Entries arrive one at a time; chaining their writes keeps them in order, and after the
  // first failure the rest are skipped.
  let writes: Promise<void> = Promise.resolve();
  let writeError: unknown;
  let parseError: unknown;
  let stopped = false;
  let stop: (err: unknown) => void = () => {};
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      const path = entry.path.replace(/^\.\//, '');
      const base = path.startsWith(`${folder}/`) ? path.slice(folder.length + 1) : undefined;
      if (stopped || !REGULAR.has(entry.type) || base === undefined || !wanted.has(base)) {
        entry.resume();
        return;
      }
      pending.add(entry);
      writes = writes
        .then(() => (stopped ? void entry.resume() : writeEntry(entry, base)))
        .catch((err: unknown) => {
          writeError ??= err;
          stop(err);
        })
        .finally(() => pending.delete(entry));
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      stop = (err) => {
        stopped = true;
        source.destroy();
        reject(err);
      };
      const onParseError = (err: unknown): void => {
        parseError ??= err;
        // node-tar ends a truncated entry right after reporting it; an entry cut off by a
        // gzip error would never end, so end it here or its write would wait forever.
        setImmediate(() => {
          // Without an argument: an 'error' event on an entry nobody listens to yet would throw.
          for (const e of pending) if (e.writable) e.destroy();
          stop(err);
        });
      };
      parser.on('error', onParseError);
      source.on('error', onParseError);
      parser.on('end', resolve);
      source.pipe(parser as unknown as NodeJS.WritableStream);
    });
    await writes;
    if (writeError !== undefined) throw writeError;
  } catch (err) {
    // Let every write that is still running finish (or fail) before deleting what it wrote;
    // `writes` may grow while we wait.
    for (let w = writes; ; w = writes) {
      await w;
      if (w === writes) break;
    }
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    // "claims N bytes, only M present" says more than the parser's "Truncated input"; any
    // other write error after a parse error is only the entry we ended.
    const cause = writeError instanceof ShortEntryError ? writeError : (parseError ?? writeError ?? err);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new UnlearnError('UNLEARN_DATA_CORRUPT', `The archive ${archivePath} is truncated or corrupt (${reason}).`, {
      details: { file: archivePath, reason },
      cause,
    });
  } finally {
    source.destroy();
  }
  return found;
}
