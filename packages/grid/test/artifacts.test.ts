/**
 * What every artifact store promises (run on both the folder and the Redis store): byte-exact
 * round trips, overwrites, coded errors for missing artifacts and bad keys, JSON helpers, and
 * whole versions only while two writers race a reader. Plus key validation and the redacted
 * Redis location, which both stores share.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getJson,
  openArtifactStore,
  openDirArtifactStore,
  openRedisArtifactStore,
  putJson,
  redactRedisUrl,
  validateArtifactKey,
} from '../src/artifacts/index.js';
import type { ArtifactStore } from '../src/types.js';
import { startRedis, type TestRedis } from './redis-server.js';

let redis: TestRedis;
let work: string;

beforeAll(async () => {
  redis = await startRedis();
  work = mkdtempSync(path.join(tmpdir(), 'unlearnjs-artifacts-'));
});

afterAll(async () => {
  await redis?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function randomFile(name: string, size: number): Promise<{ file: string; bytes: Buffer; sha256: string }> {
  const file = path.join(work, name);
  const bytes = randomBytes(size);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes);
  return { file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

type Opener = (tag: string) => Promise<ArtifactStore>;

// The same stores in both flavours: a folder per test, a Redis namespace per test.
const stores: Array<[string, Opener]> = [
  ['dir', (tag) => openDirArtifactStore(path.join(work, `store-${tag}`))],
  ['redis', (tag) => openRedisArtifactStore(redis.url, { namespace: tag, chunkBytes: 1024 })],
];

describe.each(stores)('%s artifact store', (kind, open) => {
  const tag = (name: string) => `${kind}-${name}`;

  it('round-trips a multi-chunk binary file byte for byte, and stat reads its identity', async () => {
    const store = await open(tag('roundtrip'));
    try {
      expect(store.kind).toBe(kind);
      // 10 KiB + 17 bytes: ten full 1 KiB chunks and a short last one in the Redis store.
      const src = await randomFile(`${kind}/in.bin`, 10 * 1024 + 17);
      const put = await store.put('models/resnet18/s1/dense.ckpt', src.file);
      expect(put).toEqual({ key: 'models/resnet18/s1/dense.ckpt', size: src.bytes.length, sha256: src.sha256 });
      expect(await store.stat('models/resnet18/s1/dense.ckpt')).toEqual(put);
      const out = path.join(work, kind, 'out', 'nested', 'dense.ckpt');
      expect(await store.get('models/resnet18/s1/dense.ckpt', out)).toEqual(put);
      expect((await fs.readFile(out)).equals(src.bytes)).toBe(true);
      // No temp file of the read is left next to the destination.
      expect(readdirSync(path.dirname(out))).toEqual(['dense.ckpt']);
    } finally {
      await store.close();
    }
  });

  it('round-trips an empty file', async () => {
    const store = await open(tag('empty'));
    try {
      const src = await randomFile(`${kind}/empty.bin`, 0);
      await store.put('e', src.file);
      const out = path.join(work, kind, 'empty.out');
      await store.get('e', out);
      expect((await fs.readFile(out)).length).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('reads the new version after an overwrite, and overwrites an existing destination', async () => {
    const store = await open(tag('overwrite'));
    try {
      const a = await randomFile(`${kind}/a.bin`, 5000);
      const b = await randomFile(`${kind}/b.bin`, 3000);
      await store.put('k', a.file);
      const out = path.join(work, kind, 'ow.out');
      await store.get('k', out);
      expect((await fs.readFile(out)).equals(a.bytes)).toBe(true);
      const info = await store.put('k', b.file);
      expect(info.sha256).toBe(b.sha256);
      await store.get('k', out);
      expect((await fs.readFile(out)).equals(b.bytes)).toBe(true);
      expect(await store.stat('k')).toEqual({ key: 'k', size: 3000, sha256: b.sha256 });
    } finally {
      await store.close();
    }
  });

  it('reports a missing artifact with UNLEARN_ARTIFACT_MISSING and writes nothing', async () => {
    const store = await open(tag('missing'));
    try {
      const out = path.join(work, kind, 'missing.out');
      await expect(store.get('rows/none.json', out)).rejects.toMatchObject({
        code: 'UNLEARN_ARTIFACT_MISSING',
        details: { key: 'rows/none.json', location: store.location },
      });
      expect(existsSync(out)).toBe(false);
      expect(await store.stat('rows/none.json')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('refuses keys that could escape the store, before touching anything', async () => {
    const store = await open(tag('badkeys'));
    try {
      const src = await randomFile(`${kind}/bad.bin`, 10);
      for (const key of ['../x', '/abs', 'a//b', 'a/./b', 'a/../b', '', 'a/', 'a b', 'a:b', 'x'.repeat(513)]) {
        await expect(store.put(key, src.file), key).rejects.toMatchObject({ code: 'UNLEARN_INVALID_OPTIONS', details: { key } });
        await expect(store.get(key, path.join(work, kind, 'bad.out')), key).rejects.toMatchObject({ code: 'UNLEARN_INVALID_OPTIONS' });
        await expect(store.stat(key), key).rejects.toMatchObject({ code: 'UNLEARN_INVALID_OPTIONS' });
      }
      expect(existsSync(path.join(work, 'x'))).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('stores JSON values with putJson / getJson, and refuses non-JSON bytes as corrupt', async () => {
    const store = await open(tag('json'));
    try {
      const row = { method: 'ga', seed: 2, ua: 0.125, nested: { ok: true, list: [1, 2, 3] } };
      const info = await putJson(store, 'rows/s2/ga.json', row);
      expect(info.key).toBe('rows/s2/ga.json');
      expect(await getJson(store, 'rows/s2/ga.json')).toEqual(row);
      const notJson = await randomFile(`${kind}/not.json`, 64);
      await store.put('rows/bad.json', notJson.file);
      await expect(getJson(store, 'rows/bad.json')).rejects.toMatchObject({
        code: 'UNLEARN_ARTIFACT_CORRUPT',
        details: { key: 'rows/bad.json' },
      });
      await expect(getJson(store, 'rows/none.json')).rejects.toMatchObject({ code: 'UNLEARN_ARTIFACT_MISSING' });
    } finally {
      await store.close();
    }
  });

  it('gives a reader one whole version while two stores overwrite the same key', async () => {
    const writerA = await open(tag('race'));
    const writerB = await open(tag('race'));
    const reader = await open(tag('race'));
    try {
      const v0 = await randomFile(`${kind}/race0.bin`, 64 * 1024);
      const va = await randomFile(`${kind}/raceA.bin`, 96 * 1024 + 5);
      const vb = await randomFile(`${kind}/raceB.bin`, 80 * 1024 + 9);
      await writerA.put('race/k.ckpt', v0.file);
      const versions = new Set([v0.sha256, va.sha256, vb.sha256]);
      const seen: string[] = [];
      let writing = true;
      const reads = (async () => {
        let i = 0;
        // At least a few reads, and reads for as long as the writers run.
        while (writing || i < 3) {
          const out = path.join(work, kind, `race-read-${i++}.bin`);
          const info = await reader.get('race/k.ckpt', out);
          const sha = createHash('sha256')
            .update(await fs.readFile(out))
            .digest('hex');
          expect(sha).toBe(info.sha256);
          seen.push(sha);
        }
      })();
      const writes = Promise.all([
        (async () => {
          for (let i = 0; i < 4; i++) await writerA.put('race/k.ckpt', (i % 2 ? v0 : va).file);
        })(),
        (async () => {
          for (let i = 0; i < 4; i++) await writerB.put('race/k.ckpt', (i % 2 ? v0 : vb).file);
        })(),
      ]).finally(() => {
        writing = false;
      });
      await Promise.all([writes, reads]);
      expect(seen.length).toBeGreaterThanOrEqual(3);
      for (const sha of seen) expect(versions.has(sha)).toBe(true);
      const final = await reader.stat('race/k.ckpt');
      expect(final?.sha256).toBe(v0.sha256);
    } finally {
      await Promise.all([writerA.close(), writerB.close(), reader.close()]);
    }
  });
});

describe('validateArtifactKey', () => {
  it('accepts relative keys of safe segments up to 512 characters', () => {
    for (const key of ['a', 'models/resnet18/s1/dense.ckpt', 'rows/ft+lora/p0.95/class0-n100.json', 'a=b_c-d.e', 'x'.repeat(512)]) {
      expect(validateArtifactKey(key)).toBe(key);
    }
  });

  it('refuses empty, absolute, dot and dot-dot segments, odd characters and long keys, naming the key', () => {
    for (const key of ['', '../x', '/abs', 'a//b', 'a/./b', '.', '..', 'a/..', 'a/', 'a\\b', 'a b', 'a:b', 'é', 'x'.repeat(513)]) {
      expect(() => validateArtifactKey(key), key).toThrow(
        expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS', details: expect.objectContaining({ key }) }),
      );
    }
    expect(() => validateArtifactKey('../x')).toThrow(/"\.\.\/x"/);
  });
});

describe('redactRedisUrl', () => {
  it('hides the password and keeps everything else', () => {
    expect(redactRedisUrl('redis://:secret@127.0.0.1:6379/0')).toBe('redis://:***@127.0.0.1:6379/0');
    expect(redactRedisUrl('rediss://worker:s3cr%40t@redis.lan:6380/2')).toBe('rediss://worker:***@redis.lan:6380/2');
    expect(redactRedisUrl('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
    expect(redactRedisUrl('redis://h:1/0?password=secret&family=6')).not.toContain('secret');
    expect(redactRedisUrl('redis://:sec ret@[bad')).not.toContain('sec ret');
  });
});

describe('openArtifactStore', () => {
  it('opens the Redis store for a redis:// URL and a folder (created) otherwise', async () => {
    const r = await openArtifactStore(redis.url, { namespace: 'open-test' });
    try {
      expect(r.kind).toBe('redis');
      expect(r.location).toBe(redis.url);
    } finally {
      await r.close();
    }
    const dir = path.join(work, 'opened', 'deep');
    const d = await openArtifactStore(dir);
    expect(d.kind).toBe('dir');
    expect(d.location).toBe(path.resolve(dir));
    expect(existsSync(dir)).toBe(true);
    await d.close();
  });

  it('refuses bad options by name', async () => {
    await expect(openArtifactStore(redis.url, { namespace: 'a:b' })).rejects.toMatchObject({
      code: 'UNLEARN_INVALID_OPTIONS',
      message: expect.stringContaining('namespace'),
    });
    await expect(openArtifactStore(redis.url, { chunkBytes: 10 })).rejects.toMatchObject({
      code: 'UNLEARN_INVALID_OPTIONS',
      message: expect.stringContaining('chunkBytes'),
    });
  });
});
