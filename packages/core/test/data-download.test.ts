import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  isUnlearnError,
  CIFAR10_ARCHIVE_NAME,
  CIFAR10_CLASS_NAMES,
  type Cifar10Checksums,
  downloadCifar10,
  loadCifar10,
} from '@unlearnjs/core';

// ---- a tiny ustar writer -------------------------------------------------------------------

function tarHeader(name: string, size: number, type = '0', linkpath = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(linkpath, 157, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

type Entry = { name: string; data?: Buffer; type?: string; claimSize?: number; linkpath?: string };

function tar(entries: Entry[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(tarHeader(e.name, e.claimSize ?? data.length, e.type, e.linkpath));
    parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function record(label: number, seed: number): Buffer {
  const r = Buffer.alloc(3073);
  r[0] = label;
  for (let i = 1; i < 3073; i++) r[i] = (i * 31 + seed * 17) % 256;
  return r;
}

const FILES: Record<string, Buffer> = {
  'batches.meta.txt': Buffer.from(`${CIFAR10_CLASS_NAMES.join('\n')}\n\n`),
  'test_batch.bin': Buffer.concat([record(3, 1), record(8, 2), record(0, 3)]),
};
for (let k = 1; k <= 5; k++) FILES[`data_batch_${k}.bin`] = Buffer.concat([record(k, k), record(9, k + 10)]);

const EXPECTED_FILES = Object.fromEntries(Object.entries(FILES).map(([n, b]) => [n, sha256(b)]));

const ARCHIVE = gzipSync(
  tar([
    { name: 'cifar-10-batches-bin/', type: '5' },
    ...Object.entries(FILES).map(([n, data]) => ({ name: `cifar-10-batches-bin/${n}`, data })),
    { name: 'cifar-10-batches-bin/readme.html', data: Buffer.from('<p>hi</p>') },
    { name: 'outside.bin', data: Buffer.from('nope') },
  ]),
);
const EXPECTED: Cifar10Checksums = { archiveMd5: md5(ARCHIVE), files: EXPECTED_FILES };

// ---- a local server that honours Range and can cut a response short -------------------------

/** `hang`: accept and never answer; `stallAfter`: send the headers and body up to that byte, then nothing. */
type Served = { body: Buffer; cutAfter?: number; status?: number; hang?: boolean; stallAfter?: number };
let server: Server;
let base: string;
let served: Served;
let requests: { range?: string }[];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ range: req.headers.range });
    if (served.hang === true) return;
    if (served.status !== undefined) {
      res.writeHead(served.status).end();
      return;
    }
    const body = served.body;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (m !== null) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'Content-Length': body.length - start,
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else res.writeHead(200, { 'Content-Length': body.length });
    if (served.stallAfter !== undefined) {
      res.write(body.subarray(start, Math.max(start, served.stallAfter)));
      return;
    }
    if (served.cutAfter !== undefined) {
      const cut = served.cutAfter;
      served.cutAfter = undefined; // only the first response is cut
      res.write(body.subarray(start, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections(); // the hanging and stalled responses
    }),
);

// Any fetch of a non-local URL fails the test: these tests never touch the network.
const realFetch = globalThis.fetch;
beforeAll(() => {
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (url.hostname !== '127.0.0.1') throw new Error(`test tried to reach ${url.href}`);
    return realFetch(input, init);
  }) as typeof fetch;
});
afterAll(() => {
  globalThis.fetch = realFetch;
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'unlearn-dl-'));
  requests = [];
  served = { body: ARCHIVE };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; details: Readonly<Record<string, unknown>> }> {
  try {
    await p;
  } catch (err) {
    if (isUnlearnError(err)) return { code: err.code, message: err.message, details: err.details };
    throw err;
  }
  throw new Error('expected a rejection');
}

const opts = () => ({ dir, url: `${base}/cifar-10-binary.tar.gz`, expected: EXPECTED, quiet: true, retryDelayMs: 1 });

describe('downloadCifar10', () => {
  it('downloads, verifies and extracts only the wanted files of cifar-10-batches-bin/', async () => {
    const progress: [number, number, string | undefined][] = [];
    await downloadCifar10({ ...opts(), quiet: false, onProgress: (d, t, s) => progress.push([d, t, s]) });
    expect(readdirSync(dir).sort()).toEqual(Object.keys(FILES).sort());
    for (const [n, b] of Object.entries(FILES)) expect(readFileSync(join(dir, n)).equals(b)).toBe(true);
    expect(requests).toEqual([{ range: undefined }]);
    const dl = progress.filter((p) => p[2] === 'download');
    expect(dl.at(-1)).toEqual([ARCHIVE.length, ARCHIVE.length, 'download']);
    expect(progress.some((p) => p[2] === 'extract')).toBe(true);
  });

  it('loadCifar10 with download: true fetches a missing folder and loads it', async () => {
    const set = await loadCifar10({ ...opts(), split: 'test', download: true });
    expect(Array.from(set.labels)).toEqual([3, 8, 0]);
    // HWC: pixel 0 of record 0 = planar bytes 1, 1025, 2049
    const r = FILES['test_batch.bin'];
    expect(Array.from(set.images.subarray(0, 3))).toEqual([r[1], r[1025], r[2049]]);
    const train = await loadCifar10({ ...opts(), split: 'train', download: true });
    expect(Array.from(train.labels)).toEqual([1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    expect(requests.length).toBe(1); // the second load found the files
  });

  it('resumes from a partial .part file with a Range header', async () => {
    const half = Math.floor(ARCHIVE.length / 2);
    writeFileSync(join(dir, `${CIFAR10_ARCHIVE_NAME}.part`), ARCHIVE.subarray(0, half));
    await downloadCifar10(opts());
    expect(requests).toEqual([{ range: `bytes=${half}-` }]);
    expect(readFileSync(join(dir, 'test_batch.bin')).equals(FILES['test_batch.bin'])).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(Object.keys(FILES).sort());
  });

  it('retries a dropped connection and resumes where it stopped', async () => {
    served.cutAfter = 300;
    await downloadCifar10(opts());
    expect(requests.length).toBe(2);
    expect(requests[0].range).toBeUndefined();
    expect(requests[1].range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(requests[1].range ?? '')?.[0])).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'data_batch_5.bin')).equals(FILES['data_batch_5.bin'])).toBe(true);
  });

  it('rejects a wrong archive MD5 and deletes the archive', async () => {
    const e = await failure(downloadCifar10({ ...opts(), expected: { ...EXPECTED, archiveMd5: '0'.repeat(32) } }));
    expect(e.code).toBe('UNLEARN_CHECKSUM_MISMATCH');
    expect(e.details).toMatchObject({ actual: EXPECTED.archiveMd5 });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects a wrong file SHA-256, leaving no data, temp file or archive', async () => {
    const files = { ...EXPECTED_FILES, 'data_batch_3.bin': 'f'.repeat(64) };
    const e = await failure(downloadCifar10({ ...opts(), expected: { ...EXPECTED, files } }));
    expect(e.code).toBe('UNLEARN_CHECKSUM_MISMATCH');
    expect(e.message).toContain('data_batch_3.bin');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects a truncated gzip stream as corrupt and deletes it', async () => {
    const cut = ARCHIVE.subarray(0, Math.floor(ARCHIVE.length * 0.6));
    served.body = cut;
    const e = await failure(downloadCifar10({ ...opts(), expected: { ...EXPECTED, archiveMd5: md5(cut) } }));
    expect(e.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(readdirSync(dir), e.message).toEqual([]);
  });

  it('rejects a tar entry that claims more bytes than the archive holds', async () => {
    const body = gzipSync(tar([{ name: 'cifar-10-batches-bin/test_batch.bin', data: Buffer.alloc(100, 7), claimSize: 3073 * 3 }], false));
    served.body = body;
    const e = await failure(downloadCifar10({ ...opts(), expected: { ...EXPECTED, archiveMd5: md5(body) } }));
    expect(e.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(e.message).toContain('claims 9219 bytes');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('never writes outside the folder: links, ".." paths and absolute paths are skipped', async () => {
    const body = gzipSync(
      tar([
        ...Object.entries(FILES)
          .filter(([n]) => n !== 'data_batch_1.bin')
          .map(([n, data]) => ({ name: `cifar-10-batches-bin/${n}`, data })),
        // A symlink under the wanted name, then the same name reached through "..".
        { name: 'cifar-10-batches-bin/data_batch_1.bin', type: '2', linkpath: '/etc/passwd' },
        { name: 'cifar-10-batches-bin/../cifar-10-batches-bin/data_batch_1.bin', data: FILES['data_batch_1.bin'] },
        { name: 'cifar-10-batches-bin/../../escaped.bin', data: Buffer.from('nope') },
        { name: '/tmp/absolute.bin', data: Buffer.from('nope') },
      ]),
    );
    served.body = body;
    const e = await failure(downloadCifar10({ ...opts(), expected: { ...EXPECTED, archiveMd5: md5(body) } }));
    expect(e.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(e.message).toContain('data_batch_1.bin');
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(dir, '..', 'escaped.bin'))).toBe(false);
  });

  it('rejects an archive that lacks a wanted file', async () => {
    const body = gzipSync(tar([{ name: 'cifar-10-batches-bin/batches.meta.txt', data: FILES['batches.meta.txt'] }]));
    served.body = body;
    const e = await failure(downloadCifar10({ ...opts(), expected: { ...EXPECTED, archiveMd5: md5(body) } }));
    expect(e.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(e.message).toContain('data_batch_1.bin');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives up after 3 retries on network errors, keeping nothing but a resumable part', async () => {
    let calls = 0;
    const fetchFn = (async () => {
      calls++;
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const e = await failure(downloadCifar10({ ...opts(), fetch: fetchFn }));
    expect(e.code).toBe('UNLEARN_DOWNLOAD_FAILED');
    expect(e.details).toMatchObject({ attempts: 4 });
    expect(calls).toBe(4);
    expect(existsSync(join(dir, 'test_batch.bin'))).toBe(false);
  });

  it('retries HTTP 503 but not 404', async () => {
    served.status = 404;
    const e = await failure(downloadCifar10(opts()));
    expect(e.code).toBe('UNLEARN_DOWNLOAD_FAILED');
    expect(requests.length).toBe(1);
    requests = [];
    served.status = 503;
    expect((await failure(downloadCifar10({ ...opts(), retries: 2 }))).code).toBe('UNLEARN_DOWNLOAD_FAILED');
    expect(requests.length).toBe(3);
  });

  it('gives up on a server that accepts and never answers after connectTimeoutMs, keeping no partial file', async () => {
    served.hang = true;
    const t0 = performance.now();
    const e = await failure(downloadCifar10({ ...opts(), retries: 1, connectTimeoutMs: 150, idleTimeoutMs: 150 }));
    // Before the timeouts this waited for fetch's own 300 s per attempt.
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(e.code).toBe('UNLEARN_DOWNLOAD_FAILED');
    expect(requests.length).toBe(2);
    expect(e.details).toMatchObject({ attempts: 2, partBytes: 0, partKept: false });
    expect(e.message).toContain('did not answer within 150 ms');
    expect(e.message).toContain('no partial file was kept');
    expect(readdirSync(dir)).toEqual([]);
  }, 10_000);

  it('gives up on a transfer that stalls after idleTimeoutMs, keeping the bytes received for the next run', async () => {
    const kept = Math.floor(ARCHIVE.length / 3);
    served.stallAfter = kept;
    const t0 = performance.now();
    const e = await failure(downloadCifar10({ ...opts(), retries: 1, connectTimeoutMs: 5000, idleTimeoutMs: 150 }));
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(e.code).toBe('UNLEARN_DOWNLOAD_FAILED');
    // The retry resumed from the bytes of the first attempt and stalled again.
    expect(requests.map((r) => r.range)).toEqual([undefined, `bytes=${kept}-`]);
    expect(e.details).toMatchObject({ attempts: 2, partBytes: kept, partKept: true });
    expect(e.message).toContain(`no data for 150 ms after ${kept} bytes`);
    expect(e.message).toContain(`${kept} bytes received are kept`);
    expect(readFileSync(join(dir, `${CIFAR10_ARCHIVE_NAME}.part`)).equals(ARCHIVE.subarray(0, kept))).toBe(true);

    served.stallAfter = undefined;
    requests = [];
    await downloadCifar10(opts());
    expect(requests).toEqual([{ range: `bytes=${kept}-` }]);
    expect(readdirSync(dir).sort()).toEqual(Object.keys(FILES).sort());
  }, 10_000);

  it('rejects a timeout that is not a positive number of milliseconds', async () => {
    for (const bad of [{ connectTimeoutMs: 0 }, { idleTimeoutMs: -1 }, { idleTimeoutMs: Number.NaN }]) {
      const e = await failure(downloadCifar10({ ...opts(), ...bad }));
      expect(e.code).toBe('UNLEARN_INVALID_OPTIONS');
      expect(e.details.field).toBe(Object.keys(bad)[0]);
    }
    expect(requests).toEqual([]);
  });

  it('names the folder option as the caller asks (a CLI passes its flags)', async () => {
    served.status = 404;
    const lib = await failure(downloadCifar10(opts()));
    expect(lib.message).toContain('point dir (or CIFAR10_DIR)');
    const cli = await failure(downloadCifar10({ ...opts(), optionNames: { dir: '--data', download: '--download' } }));
    expect(cli.message).toContain('point --data (or CIFAR10_DIR)');
    expect(cli.details.optionNames).toEqual({ dir: '--data', download: '--download' });
    // loadCifar10 hands its optionNames to the download.
    const viaLoad = await failure(
      loadCifar10({ ...opts(), split: 'test', download: true, optionNames: { dir: '--data', download: '--download' } }),
    );
    expect(viaLoad.code).toBe('UNLEARN_DOWNLOAD_FAILED');
    expect(viaLoad.message).toContain('point --data (or CIFAR10_DIR)');
  });

  it('accepts a complete .part that the server answers with 416', async () => {
    writeFileSync(join(dir, `${CIFAR10_ARCHIVE_NAME}.part`), ARCHIVE);
    await downloadCifar10(opts());
    expect(requests).toEqual([{ range: `bytes=${ARCHIVE.length}-` }]);
    expect(readdirSync(dir).sort()).toEqual(Object.keys(FILES).sort());
  });
});
