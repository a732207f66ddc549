import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  isUnlearnError,
  CIFAR10_CLASS_NAMES,
  type ImageSet,
  channelMeans,
  defaultCifar10Dir,
  loadCifar10,
  makeSplits,
  subsetLabels,
  subsetSize,
} from '@unlearnjs/core';

const META = `${CIFAR10_CLASS_NAMES.join('\n')}\n\n`;

/** A record: label byte, then R, G, B planes filled by `pixel(c, y, x)`. */
function record(label: number, pixel: (c: number, y: number, x: number) => number): Uint8Array {
  const r = new Uint8Array(3073);
  r[0] = label;
  for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) r[1 + c * 1024 + y * 32 + x] = pixel(c, y, x);
  return r;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<{ code?: string; message: string; details?: Readonly<Record<string, unknown>> }> {
  try {
    await p;
  } catch (err) {
    if (isUnlearnError(err)) return { code: err.code, message: err.message, details: err.details };
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('loadCifar10 on files written in a temp dir', () => {
  let dir: string;
  const pix = (i: number) => (c: number, y: number, x: number) => (i * 7 + c * 85 + y * 3 + x) % 256;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'unlearn-cifar-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function writeSet(sub: string, opts: { test?: Uint8Array; meta?: string; train?: Uint8Array[] } = {}): string {
    const d = join(dir, sub);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'batches.meta.txt'), opts.meta ?? META);
    if (opts.test !== undefined) writeFileSync(join(d, 'test_batch.bin'), opts.test);
    for (const [i, b] of (opts.train ?? []).entries()) writeFileSync(join(d, `data_batch_${i + 1}.bin`), b);
    return d;
  }

  it('converts planar records to HWC and reads labels; record count = size / 3073', async () => {
    const recs = [record(3, pix(0)), record(8, pix(1)), record(0, pix(2))];
    const d = writeSet('ok', { test: concat(recs) });
    const set = await loadCifar10({ dir: d, split: 'test', quiet: true });
    expect(set.size).toBe(3);
    expect(Array.from(set.labels)).toEqual([3, 8, 0]);
    expect([set.height, set.width, set.channels]).toEqual([32, 32, 3]);
    expect(set.classNames).toEqual(CIFAR10_CLASS_NAMES);
    for (let i = 0; i < 3; i++)
      for (const [y, x] of [
        [0, 0],
        [0, 31],
        [17, 5],
        [31, 31],
      ])
        for (let c = 0; c < 3; c++) expect(set.images[i * 3072 + (y * 32 + x) * 3 + c]).toBe(pix(i)(c, y, x));
  });

  it('reads train files in order and stops at limit, without reading past it', async () => {
    const b1 = concat([record(1, pix(0)), record(2, pix(1))]);
    // A bad label in the second file, record 1: reached only when more than 3 records are read.
    const b2 = concat([record(3, pix(2)), record(200, pix(3))]);
    const d = writeSet('train', { train: [b1, b2, b1, b1, b1] });
    const set = await loadCifar10({ dir: d, split: 'train', limit: 3, quiet: true });
    expect(Array.from(set.labels)).toEqual([1, 2, 3]);
    expect(set.images[2 * 3072]).toBe(pix(2)(0, 0, 0));
    const e = await codeOf(loadCifar10({ dir: d, split: 'train', quiet: true }));
    expect(e.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(e.details).toMatchObject({ file: join(d, 'data_batch_2.bin'), record: 1, value: 200 });
    expect(e.message).toContain('data_batch_2.bin');
    expect(e.message).toContain('record 1');
    expect(e.message).toContain('200');
  });

  it('reports progress in records and prints nothing when quiet', async () => {
    const d = writeSet('progress', { test: concat([record(1, pix(0)), record(2, pix(1))]) });
    const calls: [number, number, string | undefined][] = [];
    const spy = vi.spyOn(process.stderr, 'write');
    await loadCifar10({ dir: d, split: 'test', onProgress: (a, b, s) => calls.push([a, b, s]) });
    await loadCifar10({ dir: d, split: 'test', quiet: true });
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    expect(calls[0]).toEqual([0, 2, 'load']);
    expect(calls.at(-1)).toEqual([2, 2, 'load']);
  });

  it('rejects a size that is not a multiple of 3073, naming the file and the size', async () => {
    const d = writeSet('size', { test: concat([record(1, pix(0)), new Uint8Array(5)]) });
    const e = await codeOf(loadCifar10({ dir: d, split: 'test', quiet: true }));
    expect(e.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(e.message).toContain('test_batch.bin');
    expect(e.message).toContain('3078');
    expect(e.details).toMatchObject({ size: 3078 });
  });

  it('rejects a label above 9 with file, record and value', async () => {
    const d = writeSet('label', { test: concat([record(1, pix(0)), record(10, pix(1))]) });
    const e = await codeOf(loadCifar10({ dir: d, split: 'test', quiet: true }));
    expect(e.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(e.details).toMatchObject({ file: join(d, 'test_batch.bin'), record: 1, value: 10 });
  });

  it('names a missing file and how to fix it', async () => {
    const d = writeSet('missing', {});
    const e = await codeOf(loadCifar10({ dir: d, split: 'test', quiet: true }));
    expect(e.code).toBe('UNLEARN_DATA_MISSING');
    expect(e.message).toContain('test_batch.bin');
    expect(e.message).toContain('CIFAR10_DIR');
    expect(e.message).toContain('download: true');
  });

  it('accepts the parent of cifar-10-batches-bin, as the reference passes --data ./data', async () => {
    const d = writeSet('parent/cifar-10-batches-bin', { test: concat([record(4, pix(0)), record(7, pix(1))]) });
    const set = await loadCifar10({ dir: join(dir, 'parent'), split: 'test', quiet: true });
    expect(Array.from(set.labels)).toEqual([4, 7]);
    // The folder itself still works, and files directly in the given folder win.
    expect((await loadCifar10({ dir: d, split: 'test', quiet: true })).size).toBe(2);
    writeFileSync(join(dir, 'parent', 'batches.meta.txt'), META);
    writeFileSync(join(dir, 'parent', 'test_batch.bin'), record(1, pix(2)));
    expect(Array.from((await loadCifar10({ dir: join(dir, 'parent'), split: 'test', quiet: true })).labels)).toEqual([1]);
  });

  it('says how to get the binary version when only the Python-pickle folder is there', async () => {
    const parent = join(dir, 'pickle-parent');
    const py = join(parent, 'cifar-10-batches-py');
    mkdirSync(py, { recursive: true });
    for (const f of ['batches.meta', 'data_batch_1', 'test_batch']) writeFileSync(join(py, f), 'pickle');
    for (const [given, unpackIn] of [
      [parent, parent], // --data ./data, as the reference passes it
      [py, parent], // the pickle folder itself
    ]) {
      const e = await codeOf(loadCifar10({ dir: given, split: 'train', quiet: true }));
      expect(e.code).toBe('UNLEARN_DATA_MISSING');
      expect(e.message).toContain(`${py} holds the Python (pickle) version`);
      expect(e.message).toContain('cifar-10-binary.tar.gz');
      expect(e.message).toContain(`unpack it in ${unpackIn} (that creates ${join(unpackIn, 'cifar-10-batches-bin')})`);
      expect(e.message).toContain(`point dir at ${unpackIn}`);
      expect(e.message).toContain('or pass download: true');
      expect(e.details).toMatchObject({ dir: given, pickleDir: py, optionNames: { dir: 'dir', download: 'download: true' } });
    }
    // After unpacking the binary version next to it, the same folder loads.
    writeSet('pickle-parent/cifar-10-batches-bin', { test: record(2, pix(0)) });
    expect((await loadCifar10({ dir: parent, split: 'test', quiet: true })).size).toBe(1);
  });

  it('names the CLI flags it is given instead of the library options', async () => {
    const optionNames = { dir: '--data', download: '--download' };
    const d = writeSet('missing-cli', {});
    const e = await codeOf(loadCifar10({ dir: d, split: 'test', quiet: true, optionNames }));
    expect(e.code).toBe('UNLEARN_DATA_MISSING');
    expect(e.message).toContain('Point --data (or CIFAR10_DIR)');
    expect(e.message).toContain('pass --download');
    expect(e.message).not.toContain('download: true');
    expect(e.details).toMatchObject({ optionNames });
    const py = join(dir, 'pickle-cli', 'cifar-10-batches-py');
    mkdirSync(py, { recursive: true });
    writeFileSync(join(py, 'data_batch_1'), 'pickle');
    const p = await codeOf(loadCifar10({ dir: join(dir, 'pickle-cli'), split: 'train', quiet: true, optionNames }));
    expect(p.message).toContain(`point --data at ${join(dir, 'pickle-cli')}`);
    expect(p.message).toContain('or pass --download');
  });

  it('rejects a meta file that does not list the 10 classes in order', async () => {
    const swapped = [...CIFAR10_CLASS_NAMES];
    [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
    for (const meta of [swapped.join('\n'), CIFAR10_CLASS_NAMES.slice(0, 9).join('\n'), '']) {
      const d = writeSet('meta', { test: record(1, pix(0)), meta });
      expect((await codeOf(loadCifar10({ dir: d, split: 'test', quiet: true }))).code).toBe('UNLEARN_DATA_CORRUPT');
    }
    // CRLF line ends and no trailing blank line are still the same names.
    const d = writeSet('meta-crlf', { test: record(1, pix(0)), meta: CIFAR10_CLASS_NAMES.join('\r\n') });
    expect((await loadCifar10({ dir: d, split: 'test', quiet: true })).size).toBe(1);
  });

  it('rejects a bad split or limit', async () => {
    const d = writeSet('opts', { test: record(1, pix(0)) });
    expect((await codeOf(loadCifar10({ dir: d, split: 'val' as 'test', quiet: true }))).code).toBe('UNLEARN_INVALID_OPTIONS');
    expect((await codeOf(loadCifar10({ dir: d, split: 'test', limit: -1, quiet: true }))).details).toMatchObject({ field: 'limit' });
    expect((await codeOf(loadCifar10({ dir: d, split: 'test', limit: 2, quiet: true }))).details).toMatchObject({
      field: 'limit',
      available: 1,
    });
  });
});

describe('defaultCifar10Dir', () => {
  it('prefers CIFAR10_DIR', () => {
    vi.stubEnv('CIFAR10_DIR', '/some/where');
    expect(defaultCifar10Dir()).toBe('/some/where');
    vi.unstubAllEnvs();
  });

  it('finds a shared/data/cifar10 folder above the working directory, else the user cache', () => {
    vi.stubEnv('CIFAR10_DIR', '');
    const root = mkdtempSync(join(tmpdir(), 'unlearn-cwd-'));
    const cwd = process.cwd();
    try {
      mkdirSync(join(root, 'shared/data/cifar10'), { recursive: true });
      mkdirSync(join(root, 'repo/packages/core'), { recursive: true });
      process.chdir(join(root, 'repo/packages/core'));
      expect(defaultCifar10Dir()).toBe(join(root, 'shared/data/cifar10'));
      process.chdir(join(root, 'repo'));
      expect(defaultCifar10Dir()).toBe(join(root, 'shared/data/cifar10'));
      rmSync(join(root, 'shared'), { recursive: true });
      expect(defaultCifar10Dir()).toBe(join(homedir(), '.cache/unlearnjs/cifar10'));
    } finally {
      process.chdir(cwd);
      rmSync(root, { recursive: true, force: true });
      vi.unstubAllEnvs();
    }
  });
});

const REAL_DIR = process.env.CIFAR10_DIR || resolve(process.cwd(), '../shared/data/cifar10');
const hasReal = existsSync(join(REAL_DIR, 'data_batch_1.bin'));

describe.skipIf(!hasReal)('loadCifar10 on the real data', () => {
  it('reads the first labels of train and test', async () => {
    const train = await loadCifar10({ dir: REAL_DIR, split: 'train', limit: 10, quiet: true });
    const test = await loadCifar10({ dir: REAL_DIR, split: 'test', limit: 10, quiet: true });
    expect(Array.from(train.labels)).toEqual([6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    expect(Array.from(test.labels)).toEqual([3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
  });

  it('reads the real files through their parent folder (a symlink named cifar-10-batches-bin)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'unlearn-parent-'));
    try {
      symlinkSync(REAL_DIR, join(parent, 'cifar-10-batches-bin'));
      const train = await loadCifar10({ dir: parent, split: 'train', limit: 10, quiet: true });
      const direct = await loadCifar10({ dir: REAL_DIR, split: 'train', limit: 10, quiet: true });
      expect(Array.from(train.labels)).toEqual(Array.from(direct.labels));
      expect(Buffer.from(train.images).equals(Buffer.from(direct.images))).toBe(true);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('puts the planar bytes of image 0, pixel (0,0) at HWC offsets 0, 1, 2', async () => {
    const train = await loadCifar10({ dir: REAL_DIR, split: 'train', limit: 2, quiet: true });
    const raw = Buffer.alloc(3073 * 2);
    const fd = openSync(join(REAL_DIR, 'data_batch_1.bin'), 'r');
    readSync(fd, raw, 0, raw.length, 0);
    closeSync(fd);
    expect([train.images[0], train.images[1], train.images[2]]).toEqual([raw[1], raw[1 + 1024], raw[1 + 2048]]);
    // pixel (y=5, x=9) of image 1
    const p = 5 * 32 + 9;
    const o = 3072 + p * 3;
    expect([train.images[o], train.images[o + 1], train.images[o + 2]]).toEqual([
      raw[3073 + 1 + p],
      raw[3073 + 1 + 1024 + p],
      raw[3073 + 1 + 2048 + p],
    ]);
  });

  describe('full train and test', () => {
    let train: ImageSet;
    let test: ImageSet;
    beforeAll(async () => {
      train = await loadCifar10({ dir: REAL_DIR, split: 'train', quiet: true });
      test = await loadCifar10({ dir: REAL_DIR, split: 'test', quiet: true });
    });

    it('has 5000 images per class in train and 1000 in test', () => {
      const count = (l: Uint8Array) => {
        const c = new Array(10).fill(0);
        for (const v of l) c[v]++;
        return c;
      };
      expect(train.size).toBe(50_000);
      expect(test.size).toBe(10_000);
      expect(count(train.labels)).toEqual(new Array(10).fill(5000));
      expect(count(test.labels)).toEqual(new Array(10).fill(1000));
    });

    it('has the published per-channel train means', () => {
      const m = channelMeans(train);
      expect(Math.abs(m[0] - 0.4914)).toBeLessThan(1e-4);
      expect(Math.abs(m[1] - 0.4822)).toBeLessThan(1e-4);
      expect(Math.abs(m[2] - 0.4465)).toBeLessThan(1e-4);
    });

    it('splits 45000/5000 with 500 validation images per class and forgets 4500 of a class', () => {
      const s = makeSplits(train, test, { seed: 1, classToForget: 3 });
      expect(subsetSize(s.train)).toBe(45_000);
      const val = new Array(10).fill(0);
      for (const v of subsetLabels(s.validation)) val[v]++;
      expect(val).toEqual(new Array(10).fill(500));
      expect(subsetSize(s.forget)).toBe(4500);
      expect(subsetLabels(s.forget).every((l) => l === 3)).toBe(true);
      expect(subsetSize(s.retain)).toBe(40_500);
      expect(subsetSize(s.testRetainClasses)).toBe(9000);
      const r = makeSplits(train, test, { seed: 1 });
      expect(subsetSize(r.forget)).toBe(4500);
      expect(subsetSize(r.testRetainClasses)).toBe(10_000);
    });
  });
});
