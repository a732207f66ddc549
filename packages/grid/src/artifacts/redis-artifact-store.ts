import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { parseOptions, UnlearnError } from '@unlearnjs/core';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import type { ArtifactInfo, ArtifactStore } from '../types.js';
import { validateArtifactKey } from './artifact-key.js';
import { ensureParent, tempPathFor, unlinkQuietly, writeAll } from './file-io.js';
import { redactRedisUrl } from './safe-location.js';

const MIB = 1024 * 1024;

/** Default size cap of one artifact in the Redis store: 512 MiB. */
export const DEFAULT_ARTIFACT_MAX_BYTES = 512 * MIB;
/** Default chunk size of the Redis store: 4 MiB. */
export const DEFAULT_ARTIFACT_CHUNK_BYTES = 4 * MIB;
/** Default lifetime of an upload's chunks until it is committed: one hour. */
export const DEFAULT_ARTIFACT_UPLOAD_TTL_MS = 3_600_000;
/** Default time an overwritten artifact's chunks stay readable: one minute. */
export const DEFAULT_ARTIFACT_READ_GRACE_MS = 60_000;

/** Options of {@link openRedisArtifactStore}. */
export interface RedisArtifactStoreOptions {
  /**
   * Keeps grids that share one Redis apart: keys live under `unlearnjs:<namespace>:art:`. Use
   * the grid's name. Letters, digits, `.`, `_` and `-`.
   * @defaultValue 'grid'
   */
  namespace?: string;
  /** The largest artifact accepted, in bytes. @defaultValue 536_870_912 (512 MiB) */
  maxBytes?: number;
  /** Bytes per Redis value (at least 1 KiB, at most 256 MiB). @defaultValue 4_194_304 (4 MiB) */
  chunkBytes?: number;
  /**
   * How long an upload's chunks live before it is committed (refreshed while the upload goes
   * on), so that a writer killed mid-upload leaves nothing behind for longer than this.
   * @defaultValue 3_600_000 (one hour)
   */
  uploadTtlMs?: number;
  /**
   * How long the chunks of an overwritten artifact stay readable after the overwrite, so that
   * a reader already streaming the old version finishes it instead of starting over (0: delete
   * them at once).
   * @defaultValue 60_000 (one minute)
   */
  readGraceMs?: number;
  /** Passed to ioredis (TLS, timeouts, retries); the URL's host, port, db and password win. */
  redisOptions?: RedisOptions;
}

const NAMESPACE_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

const redisStoreOptionsSchema = z.strictObject({
  namespace: z
    .string()
    .regex(NAMESPACE_PATTERN, { error: 'must be 1 to 100 letters, digits, ".", "_" or "-" (use the grid name)' })
    .default('grid'),
  maxBytes: z.int().positive().default(DEFAULT_ARTIFACT_MAX_BYTES),
  chunkBytes: z
    .int()
    .min(1024)
    .max(256 * MIB)
    .default(DEFAULT_ARTIFACT_CHUNK_BYTES),
  uploadTtlMs: z.int().min(100).default(DEFAULT_ARTIFACT_UPLOAD_TTL_MS),
  readGraceMs: z.int().min(0).default(DEFAULT_ARTIFACT_READ_GRACE_MS),
  // Checked only for being an object: its fields (a password among them) must never be echoed
  // into an error message, and ioredis validates them itself.
  redisOptions: z
    .custom<RedisOptions>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { error: 'must be an object' })
    .optional(),
});

/**
 * Commits an upload in one atomic step: refuses if any of its chunks is gone (expired or
 * evicted), makes them permanent, replaces the key's record, and expires (grace > 0) or
 * deletes the previous upload's chunks. KEYS[1] is the record, KEYS[2..] the upload's chunks in
 * order; ARGV is size, sha256, chunks, chunkBytes, uploadId, grace in ms.
 *
 * A script rather than MULTI/EXEC: a transaction cannot read the previous record's upload id
 * (which names the chunks to delete) nor refuse to commit over a missing chunk without a
 * WATCH-and-retry loop, and WATCH belongs to the connection, which this store shares between
 * concurrent calls.
 */
const COMMIT_SCRIPT = `
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    return redis.error_reply('UNLEARN_CHUNK_GONE ' .. (i - 2))
  end
end
local old = redis.call('HMGET', KEYS[1], 'uploadId', 'chunks')
for i = 2, #KEYS do redis.call('PERSIST', KEYS[i]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'size', ARGV[1], 'sha256', ARGV[2], 'chunks', ARGV[3], 'chunkBytes', ARGV[4], 'uploadId', ARGV[5])
if old[1] and old[1] ~= ARGV[5] then
  local n = tonumber(old[2]) or 0
  local grace = tonumber(ARGV[6])
  for i = 0, n - 1 do
    local k = KEYS[1] .. ':' .. old[1] .. ':' .. i
    if grace > 0 then redis.call('PEXPIRE', k, grace) else redis.call('DEL', k) end
  end
end
return 1
`;

/** Reads of one `get` when the record keeps changing under it (an overwrite mid-read). */
const MAX_READS = 3;

/** A key's record as stored in its Redis hash. */
interface ChunkedRecord extends ArtifactInfo {
  chunks: number;
  chunkBytes: number;
  uploadId: string;
}

/**
 * Open an artifact store that needs nothing shared but Redis, for workers in separate working
 * directories or on machines without a shared folder.
 *
 * @remarks
 * An artifact is stored as chunks (`unlearnjs:<ns>:art:<key>:<uploadId>:<i>`, `chunkBytes`
 * each) and a record (the hash `unlearnjs:<ns>:art:<key>`: size, sha256, chunks, chunkBytes,
 * uploadId). A `put` checks the file's size against `maxBytes` before sending anything, writes
 * the chunks under a fresh upload id with a TTL (`uploadTtlMs`, refreshed as the upload goes
 * on), then commits in one atomic script: the chunks lose their TTL, the record names the new
 * upload, and the previous upload's chunks expire after `readGraceMs` (so that a reader
 * already streaming them finishes). A writer killed mid-upload therefore
 * leaves only chunks that expire, and a reader sees the old artifact or the whole new one.
 *
 * A `get` reads the record, then that upload's chunks, streaming them into a temp file next to
 * the destination while hashing, and renames it into place only when size and SHA-256 match.
 * When a chunk is gone or the bytes do not match because the key was overwritten meanwhile
 * and the read outlasted `readGraceMs` (the record now names another upload), it reads again
 * (at most 3 reads in all); otherwise the artifact is corrupt.
 *
 * Persistence is Redis's: run it with append-only persistence (`appendonly yes`) so that a
 * restart keeps the artifacts, and with `maxmemory-policy noeviction` (which BullMQ requires
 * too) so that Redis never evicts a chunk to make room.
 *
 * @param url - `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS)
 * @param options - see {@link RedisArtifactStoreOptions}
 * @returns the store (`kind: 'redis'`, `location`: the URL without its password)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a bad option, `UNLEARN_QUEUE_UNAVAILABLE`
 *   when Redis cannot be reached or refuses the login
 * @example
 * ```ts
 * const store = await openRedisArtifactStore('redis://:secret@redis.lan:6379/0', { namespace: 'paper-grid' });
 * try {
 *   await store.put('models/resnet18/s1/dense.ckpt', 'out/dense.ckpt');
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export async function openRedisArtifactStore(url: string, options: RedisArtifactStoreOptions = {}): Promise<ArtifactStore> {
  const opts = parseOptions(redisStoreOptionsSchema, options, 'the Redis artifact store');
  const location = redactRedisUrl(url);
  const redis = new Redis(url, { ...opts.redisOptions, lazyConnect: true });
  // Without a listener ioredis prints every reconnection error; the calls report them instead.
  // The last one is kept because `connect()` itself only says "Connection is closed".
  let lastError: unknown;
  redis.on('error', (err) => {
    lastError = err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw unavailable(location, lastError ?? err);
  }
  return new RedisArtifactStore(redis, location, opts);
}

/** Errors of ioredis that mean "Redis is not usable from here", as opposed to a bug. */
function isUnavailable(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown };
  if (e?.name !== 'ReplyError') return true;
  return /^(NOAUTH|WRONGPASS|NOPERM|LOADING|MASTERDOWN|READONLY|OOM)\b/.test(String(e.message));
}

function unavailable(location: string, err: unknown): UnlearnError {
  const why = (err instanceof Error ? err.message : String(err)).replace(/\.$/, '');
  return new UnlearnError(
    'UNLEARN_QUEUE_UNAVAILABLE',
    `Cannot use the artifact store's Redis at ${location}: ${why}. Check that Redis is running and reachable from this machine, and the URL's host, port and password.`,
    { details: { location }, cause: scrubbed(err) },
  );
}

/**
 * A copy of an ioredis error without its `command` field: for a failed login that holds the
 * AUTH arguments, the password, which `console.error(err)` would print with the cause.
 */
function scrubbed(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const copy = new Error(err.message);
  copy.name = err.name;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined) Object.assign(copy, { code });
  return copy;
}

class RedisArtifactStore implements ArtifactStore {
  readonly kind = 'redis' as const;
  private readonly prefix: string;
  private readonly maxBytes: number;
  private readonly chunkBytes: number;
  private readonly uploadTtlMs: number;
  private readonly readGraceMs: number;

  constructor(
    private readonly redis: Redis,
    readonly location: string,
    opts: { namespace: string; maxBytes: number; chunkBytes: number; uploadTtlMs: number; readGraceMs: number },
  ) {
    this.prefix = `unlearnjs:${opts.namespace}:art:`;
    this.maxBytes = opts.maxBytes;
    this.chunkBytes = opts.chunkBytes;
    this.uploadTtlMs = opts.uploadTtlMs;
    this.readGraceMs = opts.readGraceMs;
  }

  async put(key: string, file: string): Promise<ArtifactInfo> {
    validateArtifactKey(key);
    const { size: statSize } = await fs.stat(file);
    // Checked before anything is sent, so a too-large file costs no Redis memory at all.
    if (statSize > this.maxBytes) throw this.tooLarge(key, statSize);
    const record = this.prefix + key;
    const uploadId = randomBytes(8).toString('hex');
    const chunkKeys: string[] = [];
    const hash = createHash('sha256');
    let size = 0;
    const fh = await fs.open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(this.chunkBytes);
      let refreshedAt = Date.now();
      for (;;) {
        const n = await readFull(fh, buf);
        if (n === 0) break;
        size += n;
        // The file may have grown since it was measured.
        if (size > this.maxBytes) throw this.tooLarge(key, size);
        const chunk = buf.subarray(0, n);
        hash.update(chunk);
        const chunkKey = `${record}:${uploadId}:${chunkKeys.length}`;
        chunkKeys.push(chunkKey);
        // Awaited before `buf` is refilled: ioredis may still hold the buffer until it replies.
        await this.call(() => this.redis.set(chunkKey, chunk, 'PX', this.uploadTtlMs));
        if (Date.now() - refreshedAt > this.uploadTtlMs / 4) {
          // A slow upload must not lose its first chunks to the TTL meant for crashed ones.
          const refresh = this.redis.pipeline();
          for (const k of chunkKeys) refresh.pexpire(k, this.uploadTtlMs);
          await this.call(() => refresh.exec());
          refreshedAt = Date.now();
        }
        if (n < buf.byteLength) break;
      }
    } catch (err) {
      await this.dropChunks(chunkKeys);
      throw err;
    } finally {
      await fh.close();
    }
    const info: ArtifactInfo = { key, size, sha256: hash.digest('hex') };
    try {
      await this.call(() =>
        this.redis.eval(
          COMMIT_SCRIPT,
          1 + chunkKeys.length,
          record,
          ...chunkKeys,
          String(size),
          info.sha256,
          String(chunkKeys.length),
          String(this.chunkBytes),
          uploadId,
          String(this.readGraceMs),
        ),
      );
    } catch (err) {
      await this.dropChunks(chunkKeys);
      const m = /UNLEARN_CHUNK_GONE (\d+)/.exec(String((err as Error)?.message));
      if (m) {
        throw new UnlearnError(
          'UNLEARN_ARTIFACT_CORRUPT',
          `Uploading artifact "${key}" to ${this.location} lost chunk ${m[1]} before it was committed (it expired or Redis evicted it); nothing was stored. Run Redis with maxmemory-policy noeviction and put it again.`,
          { details: { key, location: this.location, chunk: Number(m[1]) }, cause: err },
        );
      }
      throw err;
    }
    return info;
  }

  async get(key: string, file: string): Promise<ArtifactInfo> {
    validateArtifactKey(key);
    await ensureParent(file);
    for (let read = 1; ; read++) {
      const rec = await this.readRecord(key);
      if (!rec) {
        throw new UnlearnError(
          'UNLEARN_ARTIFACT_MISSING',
          `No artifact "${key}" in ${this.location}: the cell that writes it has not finished (or wrote to another store or namespace).`,
          { details: { key, location: this.location } },
        );
      }
      const tmp = tempPathFor(file);
      let problem: { why: string; actual?: { size: number; sha256: string } } | undefined;
      try {
        problem = await this.download(rec, tmp);
      } catch (err) {
        await unlinkQuietly(tmp);
        throw err;
      }
      if (!problem) {
        try {
          await fs.rename(tmp, file);
        } catch (err) {
          await unlinkQuietly(tmp);
          throw err;
        }
        return { key, size: rec.size, sha256: rec.sha256 };
      }
      await unlinkQuietly(tmp);
      const now = await this.readRecord(key).catch(() => undefined);
      if (now && now.uploadId !== rec.uploadId && read < MAX_READS) continue;
      throw new UnlearnError(
        'UNLEARN_ARTIFACT_CORRUPT',
        `Artifact "${key}" in ${this.location} cannot be trusted: ${problem.why}${
          problem.actual
            ? ` (${problem.actual.size} bytes, SHA-256 ${problem.actual.sha256}; recorded ${rec.size} bytes, SHA-256 ${rec.sha256})`
            : ''
        }. Nothing was written; run the cell that writes it again.`,
        {
          details: {
            key,
            location: this.location,
            uploadId: rec.uploadId,
            expectedSize: rec.size,
            expectedSha256: rec.sha256,
            actualSize: problem.actual?.size,
            actualSha256: problem.actual?.sha256,
          },
        },
      );
    }
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    validateArtifactKey(key);
    const rec = await this.readRecord(key);
    return rec && { key, size: rec.size, sha256: rec.sha256 };
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      // Already disconnected: nothing left to release.
      this.redis.disconnect();
    }
  }

  /**
   * Stream one upload's chunks into `tmp` while hashing.
   * @returns `undefined` when the bytes match the record, else what is wrong
   */
  private async download(rec: ChunkedRecord, tmp: string): Promise<{ why: string; actual?: { size: number; sha256: string } } | undefined> {
    const hash = createHash('sha256');
    let size = 0;
    const out = await fs.open(tmp, 'wx');
    try {
      for (let i = 0; i < rec.chunks; i++) {
        const chunk = await this.call(() => this.redis.getBuffer(`${this.prefix}${rec.key}:${rec.uploadId}:${i}`));
        if (chunk === null) return { why: `chunk ${i} of ${rec.chunks} is missing` };
        const expected = i < rec.chunks - 1 ? rec.chunkBytes : rec.size - (rec.chunks - 1) * rec.chunkBytes;
        // Checked per chunk so that a damaged artifact fails before the rest is downloaded.
        if (chunk.byteLength !== expected)
          return { why: `chunk ${i} holds ${chunk.byteLength} bytes where its record implies ${expected}` };
        hash.update(chunk);
        size += chunk.byteLength;
        await writeAll(out, chunk);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    const sha256 = hash.digest('hex');
    if (size !== rec.size || sha256 !== rec.sha256)
      return { why: 'its bytes do not match its recorded checksum', actual: { size, sha256 } };
    return undefined;
  }

  private async readRecord(key: string): Promise<ChunkedRecord | undefined> {
    const h = await this.call(() => this.redis.hgetall(this.prefix + key));
    if (Object.keys(h).length === 0) return undefined;
    const size = Number(h.size);
    const chunks = Number(h.chunks);
    const chunkBytes = Number(h.chunkBytes);
    const valid =
      Number.isSafeInteger(size) &&
      size >= 0 &&
      Number.isSafeInteger(chunkBytes) &&
      chunkBytes > 0 &&
      chunks === Math.ceil(size / chunkBytes) &&
      /^[0-9a-f]{64}$/.test(h.sha256 ?? '') &&
      /^[0-9a-f]{1,64}$/.test(h.uploadId ?? '');
    if (!valid) {
      throw new UnlearnError(
        'UNLEARN_ARTIFACT_CORRUPT',
        `The record of artifact "${key}" in ${this.location} is not valid (size ${h.size}, chunks ${h.chunks}, chunkBytes ${h.chunkBytes}); run the cell that writes it again.`,
        { details: { key, location: this.location, record: h } },
      );
    }
    return { key, size, sha256: h.sha256, chunks, chunkBytes, uploadId: h.uploadId };
  }

  /** Best-effort removal of an upload that will not be committed; its TTL covers a failure here. */
  private async dropChunks(chunkKeys: string[]): Promise<void> {
    for (let i = 0; i < chunkKeys.length; i += 1000) {
      await this.redis.del(...chunkKeys.slice(i, i + 1000)).catch(() => undefined);
    }
  }

  private tooLarge(key: string, size: number): UnlearnError {
    return new UnlearnError(
      'UNLEARN_ARTIFACT_TOO_LARGE',
      `Artifact "${key}" is ${size} bytes, more than the ${this.maxBytes}-byte cap of the Redis artifact store at ${this.location}; nothing was stored. Raise maxBytes (and Redis's memory) or use a shared directory store.`,
      { details: { key, location: this.location, size, maxBytes: this.maxBytes } },
    );
  }

  /** Run a Redis call, turning "cannot reach / log in to Redis" into `UNLEARN_QUEUE_UNAVAILABLE`. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UnlearnError || !isUnavailable(err)) throw err;
      throw unavailable(this.location, err);
    }
  }
}

/** Fill `buf` from the file's current position; fewer bytes only at the end of the file. */
async function readFull(fh: fs.FileHandle, buf: Buffer): Promise<number> {
  let off = 0;
  while (off < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, off, buf.byteLength - off, null);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return off;
}
