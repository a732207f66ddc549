import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UnlearnError, isUnlearnError } from '../errors/unlearn-error.js';
import { CIFAR10_ARCHIVE_FOLDER, CIFAR10_ARCHIVE_MD5, CIFAR10_FILE_SHA256, CIFAR10_URL } from './cifar10-files.js';
import { defaultCifar10Dir } from './default-cifar10-dir.js';
import { extractTarGz } from './extract-tar-gz.js';
import { type DataProgressCallback, stderrProgress } from './progress.js';

/** The checksums a download must match. */
export type Cifar10Checksums = {
  /** MD5 (hex) of the whole `.tar.gz`. */
  readonly archiveMd5: string;
  /** SHA-256 (hex) of each file to extract from `cifar-10-batches-bin/`, by base name. */
  readonly files: Readonly<Record<string, string>>;
};

/**
 * How error messages name the options that pick the data folder and allow a download, so a
 * CLI can have them speak its flags (`{ dir: '--data', download: '--download' }`).
 */
export type Cifar10OptionNames = {
  /** The option (or flag) that names the data folder. @defaultValue `'dir'` */
  readonly dir?: string;
  /** The option (or flag) that allows a download. @defaultValue `'download: true'` */
  readonly download?: string;
};

/** {@link Cifar10OptionNames} with the library's own option names filled in. */
export function resolveCifar10OptionNames(names: Cifar10OptionNames | undefined): Required<Cifar10OptionNames> {
  return { dir: names?.dir ?? 'dir', download: names?.download ?? 'download: true' };
}

/** Options of {@link downloadCifar10}. */
export type DownloadCifar10Options = {
  /** Target folder. @defaultValue {@link defaultCifar10Dir}() */
  dir?: string;
  /** Archive URL. @defaultValue {@link CIFAR10_URL} */
  url?: string;
  /** The fetch to use (tests inject a fake). @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
  /** Checksums to verify. @defaultValue the official MD5 and SHA-256 list */
  expected?: Cifar10Checksums;
  /** Retries after a network error or an HTTP 5xx/408/429. @defaultValue 3 */
  retries?: number;
  /** First retry delay in ms, doubled on each retry. @defaultValue 1000 */
  retryDelayMs?: number;
  /**
   * Longest wait, per attempt, from sending the request to the response headers: it covers a
   * server that accepts the connection and never answers. @defaultValue 30000
   */
  connectTimeoutMs?: number;
  /** Longest wait for the next bytes of the body; a stalled transfer is then retried. @defaultValue 30000 */
  idleTimeoutMs?: number;
  /** How error messages name the folder and download options. @defaultValue the library's names */
  optionNames?: Cifar10OptionNames;
  /** No default progress output on stderr. */
  quiet?: boolean;
  /** Progress of the `download` (bytes) and `extract` (archive bytes) stages. */
  onProgress?: DataProgressCallback;
};

/** Name of the archive while and after downloading (`.part` appended while incomplete). */
export const CIFAR10_ARCHIVE_NAME = 'cifar-10-binary.tar.gz';

/** Timeouts of one attempt, in ms. */
type Timeouts = { readonly connectMs: number; readonly idleMs: number };

/**
 * Settle like `promise`, or reject with `timeoutError()` after `ms` and abort the request, so
 * the losing promise settles too and nothing keeps a socket open.
 */
function withTimeout<T>(promise: Promise<T>, ms: number, controller: AbortController, timeoutError: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Reject first: the abort also rejects `promise`, and the race must report the timeout.
      reject(timeoutError());
      controller.abort();
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An HTTP failure; retryable when the server may recover. */
class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
  get retryable(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function hashFile(path: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** One attempt: fetch (resuming from the `.part` size with a Range header) and append to it. */
async function fetchOnce(
  fetchFn: typeof fetch,
  url: string,
  part: string,
  timeouts: Timeouts,
  onProgress: DataProgressCallback | undefined,
): Promise<void> {
  const offset = (await fileSize(part)) ?? 0;
  // fetch's own limits (undici: 300 s for the headers, 300 s between body chunks) made one
  // silent server cost ~20 minutes over the retries.
  const controller = new AbortController();
  const init: RequestInit = { signal: controller.signal, ...(offset > 0 ? { headers: { Range: `bytes=${offset}-` } } : {}) };
  const res = await withTimeout(
    fetchFn(url, init),
    timeouts.connectMs,
    controller,
    () => new Error(`the server did not answer within ${timeouts.connectMs} ms`),
  );
  // 416: nothing left past `offset`, so the part is (probably) complete; the MD5 decides.
  if (res.status === 416 && offset > 0) return;
  if (!res.ok) throw new HttpStatusError(res.status);
  let append = false;
  let total = 0;
  if (res.status === 206 && offset > 0) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (m === null || Number(m[1]) !== offset) {
      // The server resumed somewhere else: start over rather than splice wrong bytes.
      await rm(part, { force: true });
      throw new Error(`server answered the range request with "${res.headers.get('content-range')}"`);
    }
    append = true;
    total = m[3] === '*' ? 0 : Number(m[3]);
  } else {
    const len = Number(res.headers.get('content-length'));
    total = Number.isFinite(len) && len > 0 ? len : 0;
  }
  if (res.body === null) throw new Error('response has no body');
  const fh = await open(part, append ? 'a' : 'w');
  let done = append ? offset : 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done: end, value } = await withTimeout(
        reader.read(),
        timeouts.idleMs,
        controller,
        () => new Error(`no data for ${timeouts.idleMs} ms after ${done} bytes`),
      );
      if (end) break;
      await fh.write(value);
      done += value.length;
      onProgress?.(done, total, 'download');
    }
  } finally {
    await fh.close();
  }
  if (total > 0 && done < total) throw new Error(`connection closed after ${done} of ${total} bytes`);
}

async function fetchWithRetries(
  fetchFn: typeof fetch,
  url: string,
  part: string,
  retries: number,
  retryDelayMs: number,
  timeouts: Timeouts,
  names: Required<Cifar10OptionNames>,
  onProgress: DataProgressCallback | undefined,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchOnce(fetchFn, url, part, timeouts, onProgress);
      return;
    } catch (err) {
      const retryable = !(err instanceof HttpStatusError) || err.retryable;
      if (!retryable || attempt >= retries) {
        const reason = err instanceof Error ? err.message : String(err);
        // Say what is really on disk: bytes worth resuming are kept, an empty part is not.
        const partBytes = (await fileSize(part)) ?? 0;
        if (partBytes === 0) await rm(part, { force: true });
        const partNote =
          partBytes > 0
            ? `The ${partBytes} bytes received are kept in ${part}; running again resumes from there.`
            : 'Nothing was received, so no partial file was kept.';
        throw new UnlearnError(
          'UNLEARN_DOWNLOAD_FAILED',
          `Could not download ${url} after ${attempt + 1} attempt(s): ${reason}. ${partNote} Check the network and run again, or download ${CIFAR10_ARCHIVE_NAME} yourself, unpack it and point ${names.dir} (or CIFAR10_DIR) at the folder that holds ${CIFAR10_ARCHIVE_FOLDER}/.`,
          {
            details: { url, attempts: attempt + 1, part, partBytes, partKept: partBytes > 0, reason, optionNames: names },
            cause: err,
          },
        );
      }
      await new Promise((r) => setTimeout(r, retryDelayMs * 2 ** attempt));
    }
  }
}

/**
 * Download the official CIFAR-10 binary archive and unpack it into `dir`.
 *
 * @param options - see {@link DownloadCifar10Options}
 * @returns the paths of the files written
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for bad `retries` or timeouts;
 *   `UNLEARN_DOWNLOAD_FAILED` when the network fails after the retries (a server that never
 *   answers or stalls counts as failing after `connectTimeoutMs` or `idleTimeoutMs`;
 *   `details.partBytes` says what was kept for resuming, an empty part is removed),
 *   `UNLEARN_CHECKSUM_MISMATCH` when the archive's MD5 or a file's SHA-256 is wrong (the
 *   archive is deleted), `UNLEARN_DATA_CORRUPT` when the archive is truncated or lacks a file
 *   (the archive is deleted)
 * @remarks
 * The archive streams to `<dir>/cifar-10-binary.tar.gz.part`; a later call resumes from that
 * file's size with an HTTP `Range` header (a server that ignores it sends the whole file,
 * which replaces the part). Each attempt gives up after `connectTimeoutMs` without response
 * headers or `idleTimeoutMs` without body bytes, so with the defaults a silent server fails
 * after about 2 minutes (4 attempts) rather than hanging. Once complete the part is renamed, its MD5 checked, and the
 * gzip + ustar stream is read without holding it in memory; each wanted file is written to a
 * temporary file and renamed only after every SHA-256 matched, so no half-written data file
 * ever carries a final name. The archive is deleted at the end.
 * @example
 * ```ts
 * await downloadCifar10({ dir: '/data/cifar10' });
 * ```
 */
export async function downloadCifar10(options: DownloadCifar10Options = {}): Promise<string[]> {
  const dir = options.dir ?? defaultCifar10Dir();
  const url = options.url ?? CIFAR10_URL;
  const fetchFn = options.fetch ?? globalThis.fetch;
  const expected = options.expected ?? { archiveMd5: CIFAR10_ARCHIVE_MD5, files: CIFAR10_FILE_SHA256 };
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const timeouts: Timeouts = { connectMs: options.connectTimeoutMs ?? 30_000, idleMs: options.idleTimeoutMs ?? 30_000 };
  const names = resolveCifar10OptionNames(options.optionNames);
  if (!Number.isInteger(retries) || retries < 0) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `retries must be an integer >= 0, got ${retries}.`, {
      details: { field: 'retries', value: retries },
    });
  }
  for (const [field, value] of [
    ['connectTimeoutMs', timeouts.connectMs],
    ['idleTimeoutMs', timeouts.idleMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `${field} must be a number of milliseconds > 0, got ${value}.`, {
        details: { field, value },
      });
    }
  }
  const onProgress = options.onProgress ?? (options.quiet ? undefined : stderrProgress('cifar10'));
  await mkdir(dir, { recursive: true });
  const archive = join(dir, CIFAR10_ARCHIVE_NAME);
  const part = `${archive}.part`;

  if ((await fileSize(archive)) === undefined) {
    await fetchWithRetries(fetchFn, url, part, retries, retryDelayMs, timeouts, names, onProgress);
    await rename(part, archive);
  }

  const md5 = await hashFile(archive, 'md5');
  if (md5 !== expected.archiveMd5.toLowerCase()) {
    await rm(archive, { force: true });
    throw new UnlearnError(
      'UNLEARN_CHECKSUM_MISMATCH',
      `${archive} has MD5 ${md5}, expected ${expected.archiveMd5}; it was deleted. Run again to download it afresh, or check that the URL ${url} serves the official archive.`,
      { details: { file: archive, actual: md5, expected: expected.archiveMd5 } },
    );
  }

  const wanted = new Set(Object.keys(expected.files));
  let extracted: Awaited<ReturnType<typeof extractTarGz>>;
  try {
    extracted = await extractTarGz(archive, dir, CIFAR10_ARCHIVE_FOLDER, wanted, (d, t) => onProgress?.(d, t, 'extract'));
  } catch (err) {
    await rm(archive, { force: true });
    if (isUnlearnError(err)) {
      throw new UnlearnError(err.code, `${err.message} It was deleted; run again to download it afresh.`, {
        details: { ...err.details },
        cause: err,
      });
    }
    throw err;
  }

  const discard = async (): Promise<void> => {
    await Promise.all([...extracted.values()].map((f) => rm(f.tempPath, { force: true })));
    await rm(archive, { force: true });
  };
  const missing = [...wanted].filter((name) => !extracted.has(name));
  if (missing.length > 0) {
    await discard();
    throw new UnlearnError(
      'UNLEARN_DATA_CORRUPT',
      `${archive} lacks ${missing.map((m) => `${CIFAR10_ARCHIVE_FOLDER}/${m}`).join(', ')}; it was deleted. Check that the URL ${url} serves the official archive.`,
      { details: { file: archive, missing } },
    );
  }
  const mismatched = [...extracted.values()].filter((f) => f.sha256 !== expected.files[f.name].toLowerCase());
  if (mismatched.length > 0) {
    await discard();
    throw new UnlearnError(
      'UNLEARN_CHECKSUM_MISMATCH',
      `SHA-256 mismatch for ${mismatched.map((f) => `${f.name} (got ${f.sha256}, expected ${expected.files[f.name]})`).join(', ')}; the archive was deleted. Run again to download it afresh.`,
      {
        details: {
          file: archive,
          mismatched: mismatched.map((f) => ({ name: f.name, actual: f.sha256, expected: expected.files[f.name] })),
        },
      },
    );
  }
  const written: string[] = [];
  for (const f of extracted.values()) {
    const target = join(dir, f.name);
    await rename(f.tempPath, target);
    written.push(target);
  }
  await rm(archive, { force: true });
  return written;
}
