import { open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UnlearnError } from '../errors/unlearn-error.js';
import { CIFAR10_ARCHIVE_FOLDER, CIFAR10_META_FILE, CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES, CIFAR10_URL } from './cifar10-files.js';
import { defaultCifar10Dir } from './default-cifar10-dir.js';
import {
  CIFAR10_ARCHIVE_NAME,
  type Cifar10OptionNames,
  type DownloadCifar10Options,
  downloadCifar10,
  resolveCifar10OptionNames,
} from './download-cifar10.js';
import { CIFAR10_CLASS_NAMES, CIFAR10_IMAGE_BYTES, CIFAR10_RECORD_BYTES, type ImageSet } from './image-set.js';
import { type DataProgressCallback, stderrProgress } from './progress.js';

/** Options of {@link loadCifar10}. */
export type LoadCifar10Options = Omit<DownloadCifar10Options, 'dir' | 'onProgress'> & {
  /**
   * Folder with the binary files, or its parent holding `cifar-10-batches-bin/` (as the
   * reference's `--data ./data` names the parent of its `cifar-10-batches-py/`).
   * @defaultValue {@link defaultCifar10Dir}()
   */
  dir?: string;
  /** `'train'` (the 50,000 images of `data_batch_1..5.bin`) or `'test'` (10,000). */
  split: 'train' | 'test';
  /** Load only the first `limit` records (in file order); only those bytes are read. */
  limit?: number;
  /** Download and unpack the official archive when a file is missing. @defaultValue false */
  download?: boolean;
  /** No default progress output on stderr. */
  quiet?: boolean;
  /** Progress: records loaded (`'load'`), and during a download bytes (`'download'`, `'extract'`). */
  onProgress?: DataProgressCallback;
  /**
   * How error messages name `dir` and `download`; a CLI passes its flags, e.g.
   * `{ dir: '--data', download: '--download' }`. @defaultValue `{ dir: 'dir', download: 'download: true' }`
   */
  optionNames?: Cifar10OptionNames;
};

const RECORDS_PER_READ = 1024;

function corrupt(message: string, details: Record<string, unknown>): UnlearnError {
  return new UnlearnError('UNLEARN_DATA_CORRUPT', message, { details });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function checkMeta(path: string): Promise<void> {
  const text = await readFile(path, 'latin1');
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const ok = names.length === CIFAR10_CLASS_NAMES.length && names.every((n, i) => n === CIFAR10_CLASS_NAMES[i]);
  if (!ok) {
    throw corrupt(
      `${path} does not list the 10 CIFAR-10 classes (${CIFAR10_CLASS_NAMES.join(', ')}), one per line; it lists ${JSON.stringify(names.slice(0, 12))}. Replace the folder with the official cifar-10-batches-bin files.`,
      { file: path, found: names },
    );
  }
}

async function missingIn(dir: string, names: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const f of names) if (!(await exists(join(dir, f)))) missing.push(f);
  return missing;
}

/**
 * The folder that holds the split's files: `dir` itself, or its `cifar-10-batches-bin/` when
 * that has more of them (the reference's `--data` names the parent of the data folder).
 */
async function resolveDataDir(dir: string, needed: readonly string[]): Promise<{ dir: string; missing: string[] }> {
  const here = await missingIn(dir, needed);
  if (here.length === 0) return { dir, missing: here };
  const sub = join(dir, CIFAR10_ARCHIVE_FOLDER);
  const there = await missingIn(sub, needed);
  return there.length < here.length ? { dir: sub, missing: there } : { dir, missing: here };
}

/**
 * The Python-pickle CIFAR-10 folder at `dir` (`data_batch_1` without `.bin`) or in it
 * (`cifar-10-batches-py/`), which is what the reference's own download leaves behind.
 */
async function findPickleFolder(dir: string): Promise<string | undefined> {
  for (const folder of [dir, join(dir, 'cifar-10-batches-py')]) {
    if ((await exists(join(folder, 'data_batch_1'))) || (await exists(join(folder, 'test_batch')))) return folder;
  }
  return undefined;
}

/** Fill `buf` from `position` completely, or report how many bytes the file really had. */
async function readFully(fh: Awaited<ReturnType<typeof open>>, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Load a CIFAR-10 split from the official binary files into memory as uint8 HWC images.
 *
 * @param options - see {@link LoadCifar10Options}
 * @returns the images and labels; 50,000 train images take ~154 MB
 * @throws UnlearnError `UNLEARN_DATA_MISSING` when a file is missing and `download` is not
 *   set (the message says how to get the binary version when only the Python-pickle
 *   `cifar-10-batches-py` is there); `UNLEARN_DATA_CORRUPT` when a file size is not a multiple of 3073, a label is above
 *   9, or `batches.meta.txt` does not list the 10 classes; `UNLEARN_INVALID_OPTIONS` for a
 *   bad `split` or `limit`; the errors of {@link downloadCifar10} when downloading
 * @remarks
 * The files are looked up in `dir`, then in `dir/cifar-10-batches-bin/`. Each file is a run of 3073-byte records (1 label byte, then the 32x32 R, G and B planes);
 * the record count is `fileSize / 3073`. Planes are interleaved to HWC while reading, in
 * chunks of 1024 records, so the file bytes are never held twice. With `limit` only the
 * first `limit` records are read (train records are in file order: `data_batch_1` first).
 * @example
 * ```ts
 * const train = await loadCifar10({ split: 'train' });
 * const test = await loadCifar10({ split: 'test', limit: 1000, quiet: true });
 * ```
 */
export async function loadCifar10(options: LoadCifar10Options): Promise<ImageSet> {
  const { split, limit } = options;
  if (split !== 'train' && split !== 'test') {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `split must be 'train' or 'test', got ${JSON.stringify(split)}.`, {
      details: { field: 'split', value: split },
    });
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `limit must be an integer >= 0, got ${limit}.`, {
      details: { field: 'limit', value: limit },
    });
  }
  const given = options.dir ?? defaultCifar10Dir();
  const names = resolveCifar10OptionNames(options.optionNames);
  const files = split === 'train' ? CIFAR10_TRAIN_FILES : CIFAR10_TEST_FILES;
  const onProgress = options.onProgress ?? (options.quiet ? undefined : stderrProgress(`cifar10 ${split}`));

  const needed = [CIFAR10_META_FILE, ...files];
  let { dir, missing } = await resolveDataDir(given, needed);
  if (missing.length > 0 && options.download === true) {
    await downloadCifar10({ ...options, dir, onProgress });
    missing = await missingIn(dir, needed);
  }
  if (missing.length > 0) {
    const pickle = await findPickleFolder(given);
    if (pickle !== undefined) {
      // Unpacking the binary archive next to cifar-10-batches-py/ gives cifar-10-batches-bin/,
      // which the parent lookup above finds: the reference's --data folder keeps working.
      const parent = basename(pickle) === 'cifar-10-batches-py' ? dirname(pickle) : given;
      throw new UnlearnError(
        'UNLEARN_DATA_MISSING',
        `${pickle} holds the Python (pickle) version of CIFAR-10, which unlearnjs does not read; it reads the binary version. Download ${CIFAR10_ARCHIVE_NAME} from ${CIFAR10_URL} and unpack it in ${parent} (that creates ${join(parent, CIFAR10_ARCHIVE_FOLDER)}), then point ${names.dir} at ${parent}; or pass ${names.download} to fetch it into ${dir}.`,
        { details: { dir: given, missing, file: join(dir, missing[0]), pickleDir: pickle, optionNames: names } },
      );
    }
    throw new UnlearnError(
      'UNLEARN_DATA_MISSING',
      `CIFAR-10 file(s) ${missing.join(', ')} not found in ${given} nor in ${join(given, CIFAR10_ARCHIVE_FOLDER)}. Point ${names.dir} (or CIFAR10_DIR) at a folder with the official ${CIFAR10_ARCHIVE_FOLDER} files or at its parent, or pass ${names.download} to fetch them.`,
      { details: { dir: given, missing, file: join(dir, missing[0]), optionNames: names } },
    );
  }

  await checkMeta(join(dir, CIFAR10_META_FILE));

  const counts: number[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const { size } = await stat(path);
    if (size % CIFAR10_RECORD_BYTES !== 0) {
      throw corrupt(
        `${path} has ${size} bytes, not a multiple of the ${CIFAR10_RECORD_BYTES}-byte record; the file is truncated or not a CIFAR-10 binary batch. Replace it with the official file.`,
        { file: path, size },
      );
    }
    counts.push(size / CIFAR10_RECORD_BYTES);
  }
  const available = counts.reduce((a, b) => a + b, 0);
  if (limit !== undefined && limit > available) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `limit is ${limit} but the ${split} split in ${dir} has ${available} records; pass a limit in 0..${available}.`,
      { details: { field: 'limit', value: limit, available } },
    );
  }
  const total = limit ?? available;
  const images = new Uint8Array(total * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(total);
  const buf = Buffer.allocUnsafe(RECORDS_PER_READ * CIFAR10_RECORD_BYTES);
  const P = 32 * 32;
  let loaded = 0;
  onProgress?.(0, total, 'load');
  for (let fi = 0; fi < files.length && loaded < total; fi++) {
    const path = join(dir, files[fi]);
    const inFile = Math.min(counts[fi], total - loaded);
    const fh = await open(path, 'r');
    try {
      for (let r0 = 0; r0 < inFile; r0 += RECORDS_PER_READ) {
        const n = Math.min(RECORDS_PER_READ, inFile - r0);
        const want = n * CIFAR10_RECORD_BYTES;
        const got = await readFully(fh, buf, want, r0 * CIFAR10_RECORD_BYTES);
        if (got < want) {
          throw corrupt(`${path} ended early while reading (it changed during the load?); replace it with the official file.`, {
            file: path,
            offset: r0 * CIFAR10_RECORD_BYTES + got,
          });
        }
        for (let r = 0; r < n; r++) {
          const src = r * CIFAR10_RECORD_BYTES;
          const label = buf[src];
          if (label > 9) {
            throw corrupt(
              `${path} record ${r0 + r} has label ${label}, outside 0..9; the file is corrupt. Replace it with the official file.`,
              { file: path, record: r0 + r, value: label },
            );
          }
          const out = loaded + r;
          labels[out] = label;
          let dst = out * CIFAR10_IMAGE_BYTES;
          const rOff = src + 1;
          const gOff = rOff + P;
          const bOff = gOff + P;
          for (let p = 0; p < P; p++) {
            images[dst++] = buf[rOff + p];
            images[dst++] = buf[gOff + p];
            images[dst++] = buf[bOff + p];
          }
        }
        loaded += n;
        onProgress?.(loaded, total, 'load');
      }
    } finally {
      await fh.close();
    }
  }
  return { images, labels, size: total, height: 32, width: 32, channels: 3, classNames: CIFAR10_CLASS_NAMES };
}
