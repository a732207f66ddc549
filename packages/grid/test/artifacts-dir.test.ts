/**
 * The shared-folder artifact store: its on-disk layout, corruption of objects and records,
 * healing of a damaged object, and the cleaning of temp files left by killed writers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDirArtifactStore } from '../src/artifacts/index.js';

let work: string;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'unlearnjs-artifacts-dir-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function randomFile(name: string, size: number): Promise<{ file: string; bytes: Buffer; sha256: string }> {
  const file = path.join(work, name);
  const bytes = randomBytes(size);
  await fs.writeFile(file, bytes);
  return { file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A fresh store with one 10 KiB artifact under `k/a.ckpt`. */
async function storeWithOne(name: string) {
  const root = path.join(work, name);
  const store = await openDirArtifactStore(root);
  const src = await randomFile(`${name}.bin`, 10 * 1024);
  await store.put('k/a.ckpt', src.file);
  return { root, store, src, object: path.join(root, 'objects', src.sha256), record: path.join(root, 'keys', 'k', 'a.ckpt.json') };
}

describe('dir artifact store', () => {
  it('keeps content once under objects/<sha256> and a { key, size, sha256 } record per key', async () => {
    const { root, store, src, object, record } = await storeWithOne('layout');
    expect((await fs.readFile(object)).equals(src.bytes)).toBe(true);
    expect(JSON.parse(await fs.readFile(record, 'utf8'))).toEqual({ key: 'k/a.ckpt', size: src.bytes.length, sha256: src.sha256 });
    // Same bytes under a second key: one object, two records.
    await store.put('k/b.ckpt', src.file);
    expect(readdirSync(path.join(root, 'objects'))).toEqual([src.sha256]);
    expect(readdirSync(path.join(root, 'keys', 'k')).sort()).toEqual(['a.ckpt.json', 'b.ckpt.json']);
    // Nothing is left in tmp/ after successful writes.
    expect(readdirSync(path.join(root, 'tmp'))).toEqual([]);
  });

  it('refuses an object whose bytes were changed (a flipped byte) and writes nothing at the destination', async () => {
    const { store, src, object } = await storeWithOne('flip');
    const bytes = await fs.readFile(object);
    bytes[5000] ^= 0xff;
    await fs.writeFile(object, bytes);
    const out = path.join(work, 'flip-out', 'a.ckpt');
    const err = await store.get('k/a.ckpt', out).catch((e) => e);
    expect(err).toMatchObject({
      code: 'UNLEARN_ARTIFACT_CORRUPT',
      details: {
        key: 'k/a.ckpt',
        location: store.location,
        expectedSha256: src.sha256,
        actualSha256: expect.not.stringMatching(src.sha256),
      },
    });
    expect(existsSync(out)).toBe(false);
    // Nor a temp file of the read.
    expect(readdirSync(path.dirname(out))).toEqual([]);
  });

  it('refuses an artifact whose record gives the wrong size', async () => {
    const { store, src, record } = await storeWithOne('size');
    await fs.writeFile(record, JSON.stringify({ key: 'k/a.ckpt', size: src.bytes.length + 1, sha256: src.sha256 }));
    const out = path.join(work, 'size.out');
    await expect(store.get('k/a.ckpt', out)).rejects.toMatchObject({
      code: 'UNLEARN_ARTIFACT_CORRUPT',
      details: { expectedSize: src.bytes.length + 1, actualSize: src.bytes.length },
    });
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a record that is not a record, and one whose object is gone', async () => {
    const { store, object, record } = await storeWithOne('badrecord');
    await fs.rm(object);
    const out = path.join(work, 'badrecord.out');
    await expect(store.get('k/a.ckpt', out)).rejects.toMatchObject({
      code: 'UNLEARN_ARTIFACT_CORRUPT',
      message: expect.stringContaining('is gone'),
    });
    await fs.writeFile(record, '{"key":"k/a.ckpt","size":');
    await expect(store.get('k/a.ckpt', out)).rejects.toMatchObject({ code: 'UNLEARN_ARTIFACT_CORRUPT' });
    await expect(store.stat('k/a.ckpt')).rejects.toMatchObject({ code: 'UNLEARN_ARTIFACT_CORRUPT' });
    expect(existsSync(out)).toBe(false);
  });

  it('replaces a damaged object when the same content is put again', async () => {
    const { store, src, object } = await storeWithOne('heal');
    await fs.writeFile(object, 'damaged');
    await store.put('k/other.ckpt', src.file);
    expect((await fs.readFile(object)).equals(src.bytes)).toBe(true);
    const out = path.join(work, 'heal.out');
    await store.get('k/a.ckpt', out);
    expect((await fs.readFile(out)).equals(src.bytes)).toBe(true);
  });

  it('on open removes temp files of killed writers older than staleTempMs, keeps fresh ones, and readers ignore both', async () => {
    const { root, store, src } = await storeWithOne('stale');
    const old = path.join(root, 'tmp', 'otherhost-4242-abcdef.tmp');
    const fresh = path.join(root, 'tmp', 'otherhost-4243-abcdef.tmp');
    await fs.writeFile(old, 'half an object');
    await fs.writeFile(fresh, 'half of another');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await fs.utimes(old, twoHoursAgo, twoHoursAgo);
    const out = path.join(work, 'stale.out');
    await store.get('k/a.ckpt', out);
    expect((await fs.readFile(out)).equals(src.bytes)).toBe(true);
    await openDirArtifactStore(root);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    await openDirArtifactStore(root, { staleTempMs: 0 });
    expect(existsSync(fresh)).toBe(false);
  });

  it('refuses a key whose record would collide with another key’s folder', async () => {
    const store = await openDirArtifactStore(path.join(work, 'collide'));
    const src = await randomFile('collide.bin', 10);
    await store.put('a', src.file);
    await expect(store.put('a.json/b', src.file)).rejects.toMatchObject({ code: 'UNLEARN_INVALID_OPTIONS', details: { key: 'a.json/b' } });
    await expect(store.stat('a.json/b')).resolves.toBeUndefined();
  });
});
