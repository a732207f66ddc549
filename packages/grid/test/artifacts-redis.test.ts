/**
 * The Redis artifact store against a real redis-server: chunk corruption, the size cap checked
 * before any upload, a writer killed mid-upload (kill -9), overwrites that leave no orphan
 * chunks, a Redis restart between put and get, namespaces, and passwords that never show.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisArtifactStore, type RedisArtifactStoreOptions } from '../src/artifacts/index.js';
import type { ArtifactStore } from '../src/types.js';
import { startRedis, type TestRedis } from './redis-server.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

let redis: TestRedis;
let admin: Redis;
let work: string;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  // The restart tests stop Redis under it; it reconnects, and must not log each attempt.
  admin.on('error', () => undefined);
  work = mkdtempSync(path.join(tmpdir(), 'unlearnjs-artifacts-redis-'));
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function randomFile(name: string, size: number): Promise<{ file: string; bytes: Buffer; sha256: string }> {
  const file = path.join(work, name);
  const bytes = randomBytes(size);
  await fs.writeFile(file, bytes);
  return { file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function withStore<T>(options: RedisArtifactStoreOptions, fn: (store: ArtifactStore) => Promise<T>): Promise<T> {
  const store = await openRedisArtifactStore(redis.url, { chunkBytes: 1024, ...options });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Every Redis key of a namespace's artifacts. */
async function keysOf(namespace: string): Promise<string[]> {
  return (await admin.keys(`unlearnjs:${namespace}:art:*`)).sort();
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe('redis artifact store', () => {
  it('stores chunkBytes-sized chunks under the committed upload id, persisted, next to its record', async () => {
    await withStore({ namespace: 'layout' }, async (store) => {
      const src = await randomFile('layout.bin', 10 * 1024 + 1);
      await store.put('m/a.ckpt', src.file);
      const rec = await admin.hgetall('unlearnjs:layout:art:m/a.ckpt');
      expect(rec).toMatchObject({ size: String(10 * 1024 + 1), sha256: src.sha256, chunks: '11', chunkBytes: '1024' });
      const chunks = (await keysOf('layout')).filter((k) => k !== 'unlearnjs:layout:art:m/a.ckpt');
      expect(chunks).toHaveLength(11);
      for (let i = 0; i < 11; i++) {
        const k = `unlearnjs:layout:art:m/a.ckpt:${rec.uploadId}:${i}`;
        expect(await admin.strlen(k)).toBe(i < 10 ? 1024 : 1);
        expect(await admin.pttl(k)).toBe(-1);
      }
    });
  });

  it('refuses a chunk with a flipped byte (SETRANGE) and writes nothing at the destination', async () => {
    await withStore({ namespace: 'flip' }, async (store) => {
      const src = await randomFile('flip.bin', 10 * 1024);
      await store.put('k', src.file);
      const uploadId = await admin.hget('unlearnjs:flip:art:k', 'uploadId');
      const chunk = `unlearnjs:flip:art:k:${uploadId}:3`;
      const byte = await admin.getrangeBuffer(chunk, 100, 100);
      await admin.setrange(chunk, 100, Buffer.from([byte[0] ^ 0x01]));
      const out = path.join(work, 'flip-out', 'k.bin');
      await expect(store.get('k', out)).rejects.toMatchObject({
        code: 'UNLEARN_ARTIFACT_CORRUPT',
        details: { key: 'k', location: redis.url, expectedSha256: src.sha256, actualSize: src.bytes.length },
      });
      expect(existsSync(out)).toBe(false);
      expect(await fs.readdir(path.dirname(out))).toEqual([]);
    });
  });

  it('refuses an artifact whose record gives the wrong size, or whose chunk is gone', async () => {
    await withStore({ namespace: 'badrec' }, async (store) => {
      const src = await randomFile('badrec.bin', 10 * 1024);
      await store.put('k', src.file);
      const out = path.join(work, 'badrec.out');
      await admin.hset('unlearnjs:badrec:art:k', 'size', String(src.bytes.length + 1));
      await expect(store.get('k', out)).rejects.toMatchObject({ code: 'UNLEARN_ARTIFACT_CORRUPT', details: { key: 'k' } });
      await admin.hset('unlearnjs:badrec:art:k', 'size', String(src.bytes.length - 2000));
      await expect(store.get('k', out)).rejects.toMatchObject({ code: 'UNLEARN_ARTIFACT_CORRUPT' });
      await admin.hset('unlearnjs:badrec:art:k', 'size', String(src.bytes.length));
      const uploadId = await admin.hget('unlearnjs:badrec:art:k', 'uploadId');
      await admin.del(`unlearnjs:badrec:art:k:${uploadId}:9`);
      await expect(store.get('k', out)).rejects.toMatchObject({
        code: 'UNLEARN_ARTIFACT_CORRUPT',
        message: expect.stringContaining('chunk 9'),
      });
      expect(existsSync(out)).toBe(false);
    });
  });

  it('refuses a file over the cap before uploading anything, naming key, size and cap', async () => {
    await withStore({ namespace: 'cap', maxBytes: 4096 }, async (store) => {
      const src = await randomFile('cap.bin', 10 * 1024);
      const err = await store.put('big/model.ckpt', src.file).catch((e) => e);
      expect(err).toMatchObject({
        code: 'UNLEARN_ARTIFACT_TOO_LARGE',
        details: { key: 'big/model.ckpt', size: 10 * 1024, maxBytes: 4096 },
      });
      expect(err.message).toContain('big/model.ckpt');
      expect(err.message).toContain('10240');
      expect(err.message).toContain('4096');
      expect(await keysOf('cap')).toEqual([]);
      // At the cap is fine.
      const atCap = await randomFile('atcap.bin', 4096);
      await store.put('ok', atCap.file);
    });
  });

  it('leaves only expiring chunks (no record) when the writer is killed mid-upload', async () => {
    const ttl = 3000;
    const src = await randomFile('crash.bin', 16 * 1024 * 1024);
    const script = path.join(work, 'crash-writer.mts');
    const entry = path.join(repoRoot, 'packages/grid/src/artifacts/index.ts');
    await fs.writeFile(
      script,
      `import { openRedisArtifactStore } from ${JSON.stringify(entry)};
const [url, file] = process.argv.slice(2);
const store = await openRedisArtifactStore(url, { namespace: 'crash', chunkBytes: 1024, uploadTtlMs: ${ttl} });
await store.put('crash/k.ckpt', file);
console.log('committed');
await store.close();
`,
    );
    const child = spawn(process.execPath, ['--conditions=@unlearnjs/source', '--import', 'tsx', script, redis.url, src.file], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 60_000;
      while ((await keysOf('crash')).length < 20) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`writer ended or stalled before uploading: ${output}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill('SIGKILL');
      await exited;
    } finally {
      child.kill('SIGKILL');
    }
    expect(output).not.toContain('committed');
    const left = await keysOf('crash');
    expect(left.length).toBeGreaterThanOrEqual(20);
    expect(left).not.toContain('unlearnjs:crash:art:crash/k.ckpt');
    for (const k of left) {
      const pttl = await admin.pttl(k);
      expect(pttl, k).toBeGreaterThan(0);
      expect(pttl, k).toBeLessThanOrEqual(ttl);
    }
    // And the TTL does its work: nothing of the crashed upload remains.
    const deadline = Date.now() + 10_000;
    while ((await keysOf('crash')).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await keysOf('crash')).toEqual([]);
  });

  it('on overwrite drops the previous upload’s chunks (at once with readGraceMs 0, else after the grace)', async () => {
    const a = await randomFile('ow-a.bin', 5 * 1024);
    const b = await randomFile('ow-b.bin', 3 * 1024);
    await withStore({ namespace: 'ow0', readGraceMs: 0 }, async (store) => {
      await store.put('k', a.file);
      await store.put('k', b.file);
      const uploadId = await admin.hget('unlearnjs:ow0:art:k', 'uploadId');
      expect(await keysOf('ow0')).toEqual(['unlearnjs:ow0:art:k', ...[0, 1, 2].map((i) => `unlearnjs:ow0:art:k:${uploadId}:${i}`)].sort());
    });
    await withStore({ namespace: 'owgrace', readGraceMs: 20_000 }, async (store) => {
      await store.put('k', a.file);
      const first = await admin.hget('unlearnjs:owgrace:art:k', 'uploadId');
      await store.put('k', b.file);
      for (let i = 0; i < 5; i++) {
        const pttl = await admin.pttl(`unlearnjs:owgrace:art:k:${first}:${i}`);
        expect(pttl).toBeGreaterThan(0);
        expect(pttl).toBeLessThanOrEqual(20_000);
      }
    });
  });

  it('reads a whole version when an overwrite commits mid-read, even with no grace', async () => {
    await withStore({ namespace: 'midread', readGraceMs: 0 }, async (store) => {
      const big = await randomFile('midread-a.bin', 256 * 1024);
      const small = await randomFile('midread-b.bin', 2048);
      await store.put('k', big.file);
      const out = path.join(work, 'midread.out');
      const reading = store.get('k', out);
      await new Promise((r) => setTimeout(r, 20));
      await store.put('k', small.file);
      const info = await reading;
      const got = await fs.readFile(out);
      expect([big.sha256, small.sha256]).toContain(info.sha256);
      expect(createHash('sha256').update(got).digest('hex')).toBe(info.sha256);
    });
  });

  it('still reads an artifact after Redis restarts between put and get (append-only persistence)', async () => {
    const src = await randomFile('restart.bin', 10 * 1024 + 3);
    await withStore({ namespace: 'restart' }, async (store) => {
      await store.put('r/k.ckpt', src.file);
      await redis.stop();
      await redis.start();
      // The same store reconnects by itself...
      const out = path.join(work, 'restart-1.out');
      await store.get('r/k.ckpt', out);
      expect((await fs.readFile(out)).equals(src.bytes)).toBe(true);
    });
    // ...and a fresh one reads it too.
    await withStore({ namespace: 'restart' }, async (store) => {
      const out = path.join(work, 'restart-2.out');
      await store.get('r/k.ckpt', out);
      expect((await fs.readFile(out)).equals(src.bytes)).toBe(true);
    });
  });

  it('reports Redis going away mid-use as UNLEARN_QUEUE_UNAVAILABLE', async () => {
    const store = await openRedisArtifactStore(redis.url, {
      namespace: 'gone',
      redisOptions: { maxRetriesPerRequest: 0, retryStrategy: () => null },
    });
    try {
      await redis.stop();
      await expect(store.stat('k')).rejects.toMatchObject({ code: 'UNLEARN_QUEUE_UNAVAILABLE', details: { location: redis.url } });
    } finally {
      await redis.start();
      await store.close();
    }
  });

  it('keeps two grids sharing one Redis apart by namespace', async () => {
    const a = await randomFile('ns-a.bin', 2000);
    const b = await randomFile('ns-b.bin', 3000);
    await withStore({ namespace: 'grid-a' }, async (ga) => {
      await withStore({ namespace: 'grid-b' }, async (gb) => {
        await ga.put('rows/x.json', a.file);
        expect(await gb.stat('rows/x.json')).toBeUndefined();
        await gb.put('rows/x.json', b.file);
        expect((await ga.stat('rows/x.json'))?.sha256).toBe(a.sha256);
        expect((await gb.stat('rows/x.json'))?.sha256).toBe(b.sha256);
        const out = path.join(work, 'ns.out');
        await ga.get('rows/x.json', out);
        expect((await fs.readFile(out)).equals(a.bytes)).toBe(true);
      });
    });
  });

  it('reports an unreachable Redis as UNLEARN_QUEUE_UNAVAILABLE without showing the password', async () => {
    const port = await freePort();
    const err = await openRedisArtifactStore(`redis://:hunter2-secret@127.0.0.1:${port}/0`).catch((e) => e);
    expect(err).toMatchObject({ code: 'UNLEARN_QUEUE_UNAVAILABLE', details: { location: `redis://:***@127.0.0.1:${port}/0` } });
    expect(inspect(err, { depth: 10 })).not.toContain('hunter2-secret');
  });

  it('logs in with the URL’s password, refuses a wrong one as UNLEARN_QUEUE_UNAVAILABLE, and never shows either', async () => {
    const password = 'pw-correct-horse';
    await admin.config('SET', 'requirepass', password);
    try {
      const url = `redis://:${password}@127.0.0.1:${redis.port}/0`;
      const store = await openRedisArtifactStore(url, { namespace: 'auth', chunkBytes: 1024 });
      try {
        expect(store.location).toBe(`redis://:***@127.0.0.1:${redis.port}/0`);
        const src = await randomFile('auth.bin', 3000);
        await store.put('k', src.file);
        expect((await store.stat('k'))?.sha256).toBe(src.sha256);
      } finally {
        await store.close();
      }
      const wrong = `redis://:pw-wrong-battery@127.0.0.1:${redis.port}/0`;
      const err = await openRedisArtifactStore(wrong).catch((e) => e);
      expect(err).toMatchObject({ code: 'UNLEARN_QUEUE_UNAVAILABLE', details: { location: `redis://:***@127.0.0.1:${redis.port}/0` } });
      expect(inspect(err, { depth: 10 })).not.toContain('pw-wrong-battery');
      expect(err.message).not.toContain('pw-wrong-battery');
    } finally {
      await admin.config('SET', 'requirepass', '');
    }
  });
});
