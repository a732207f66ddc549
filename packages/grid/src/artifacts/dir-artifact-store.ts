import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnlearnError } from '@unlearnjs/core';
import type { ArtifactInfo, ArtifactStore } from '../types.js';
import { validateArtifactKey } from './artifact-key.js';
import { copyHashing, ensureParent, fsyncDir, hashFile, tempPathFor, unlinkQuietly, writeAll } from './file-io.js';

/** Options of {@link openDirArtifactStore}. */
export interface DirArtifactStoreOptions {
  /**
   * Temp files in the store's `tmp/` folder older than this (by modification time) are removed
   * when the store is opened: they belong to writers that were killed.
   * @defaultValue 3_600_000 (one hour)
   */
  staleTempMs?: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Open (creating it if missing) an artifact store in a folder every worker can reach, such as
 * an NFS mount.
 *
 * @remarks
 * Layout: `objects/<sha256>` holds each distinct content once (content-addressed: two cells
 * that write the same bytes share one object), `keys/<key>.json` holds a key's record
 * `{ key, size, sha256 }`, and `tmp/` holds files being written. A `put` streams the file into
 * `tmp/`, fsyncs it and renames it into `objects/` (kept as is when an object with that hash
 * already exists and still verifies), then writes the record the same way: a reader sees the
 * old record or the new one, never a part, and an object is complete before any record names
 * it. A `get` streams the object into a temp file next to the destination while hashing it and
 * renames it into place only when size and SHA-256 match the record.
 *
 * Temp files carry the host name and pid of their writer, but a pid says nothing about a
 * process on another machine sharing the folder, so stale ones are recognised by age
 * (`staleTempMs`) rather than by pid. Objects no longer named by any record (an overwritten
 * key's old content) stay until the folder is removed; there is no garbage collection yet.
 *
 * @param dir - the folder (relative paths are resolved against the working directory)
 * @param options - see {@link DirArtifactStoreOptions}
 * @returns the store (`kind: 'dir'`, `location`: the absolute folder)
 * @throws the file system's error when the folder cannot be created
 * @example
 * ```ts
 * const store = await openDirArtifactStore('/mnt/nfs/grid-a');
 * await store.put('models/resnet18/s1/dense.ckpt', 'out/dense.ckpt');
 * ```
 */
export async function openDirArtifactStore(dir: string, options: DirArtifactStoreOptions = {}): Promise<ArtifactStore> {
  const store = new DirArtifactStore(path.resolve(dir));
  await store.init(options.staleTempMs ?? 3_600_000);
  return store;
}

class DirArtifactStore implements ArtifactStore {
  readonly kind = 'dir' as const;
  readonly location: string;
  private readonly objects: string;
  private readonly keys: string;
  private readonly tmp: string;

  constructor(root: string) {
    this.location = root;
    this.objects = path.join(root, 'objects');
    this.keys = path.join(root, 'keys');
    this.tmp = path.join(root, 'tmp');
  }

  async init(staleTempMs: number): Promise<void> {
    for (const d of [this.objects, this.keys, this.tmp]) await fs.mkdir(d, { recursive: true });
    const cutoff = Date.now() - staleTempMs;
    for (const name of await fs.readdir(this.tmp)) {
      const full = path.join(this.tmp, name);
      try {
        const st = await fs.lstat(full);
        if (st.isFile() && st.mtimeMs < cutoff) await fs.unlink(full);
      } catch {
        // Another worker opening the store removed it first, or it was renamed into place.
      }
    }
  }

  async put(key: string, file: string): Promise<ArtifactInfo> {
    validateArtifactKey(key);
    const tmpObject = this.tempFile();
    const digest = await copyHashing(file, tmpObject);
    const object = path.join(this.objects, digest.sha256);
    try {
      // An existing object is kept only if it still verifies: replacing it would break a
      // reader on another NFS client that has it open (stale handle), but a damaged one must
      // be healed by the next writer of the same content.
      const existing = await hashFile(object);
      if (existing && existing.size === digest.size && existing.sha256 === digest.sha256) {
        await unlinkQuietly(tmpObject);
      } else {
        await fs.rename(tmpObject, object);
        await fsyncDir(this.objects);
      }
    } catch (err) {
      await unlinkQuietly(tmpObject);
      throw err;
    }
    const info: ArtifactInfo = { key, size: digest.size, sha256: digest.sha256 };
    await this.writeRecord(key, info);
    return info;
  }

  async get(key: string, file: string): Promise<ArtifactInfo> {
    validateArtifactKey(key);
    const info = await this.readRecord(key);
    if (!info) {
      throw new UnlearnError(
        'UNLEARN_ARTIFACT_MISSING',
        `No artifact "${key}" in ${this.location}: the cell that writes it has not finished (or wrote to another store).`,
        { details: { key, location: this.location } },
      );
    }
    const object = path.join(this.objects, info.sha256);
    await ensureParent(file);
    const tmp = tempPathFor(file);
    try {
      await fs.access(object);
    } catch (err) {
      throw this.corrupt(key, info, undefined, `its object ${object} is gone`, err);
    }
    const digest = await copyHashing(object, tmp);
    if (digest.size !== info.size || digest.sha256 !== info.sha256) {
      await unlinkQuietly(tmp);
      throw this.corrupt(key, info, digest, `its object ${object} does not match its record`);
    }
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await unlinkQuietly(tmp);
      throw err;
    }
    return info;
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    validateArtifactKey(key);
    return this.readRecord(key);
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  private recordPath(key: string): string {
    return `${path.join(this.keys, ...key.split('/'))}.json`;
  }

  private tempFile(): string {
    return path.join(this.tmp, `${os.hostname()}-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  }

  private async writeRecord(key: string, info: ArtifactInfo): Promise<void> {
    const record = this.recordPath(key);
    const tmp = this.tempFile();
    const fh = await fs.open(tmp, 'wx');
    try {
      await writeAll(fh, Buffer.from(`${JSON.stringify(info)}\n`));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.mkdir(path.dirname(record), { recursive: true });
      await fs.rename(tmp, record);
    } catch (err) {
      await unlinkQuietly(tmp);
      const code = (err as NodeJS.ErrnoException).code;
      // `keys/a.json` (key `a`) and the folder `keys/a.json/` (key `a.json/b`) cannot both exist.
      if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENOTEMPTY') {
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          `Artifact key "${key}" collides with another key's record in ${this.location} (a key "x" and a key "x.json/..." cannot both be stored); rename one of them.`,
          { details: { key, location: this.location }, cause: err },
        );
      }
      throw err;
    }
    await fsyncDir(path.dirname(record));
  }

  private async readRecord(key: string): Promise<ArtifactInfo | undefined> {
    const record = this.recordPath(key);
    let text: string;
    try {
      text = await fs.readFile(record, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const r = parsed as Partial<ArtifactInfo> | undefined;
    if (
      typeof r !== 'object' ||
      r === null ||
      r.key !== key ||
      !Number.isSafeInteger(r.size) ||
      (r.size as number) < 0 ||
      typeof r.sha256 !== 'string' ||
      !SHA256_HEX.test(r.sha256)
    ) {
      throw new UnlearnError(
        'UNLEARN_ARTIFACT_CORRUPT',
        `The record of artifact "${key}" (${record}) is not a valid { key, size, sha256 } record; run the cell that writes it again.`,
        { details: { key, location: this.location, record } },
      );
    }
    return { key, size: r.size as number, sha256: r.sha256 };
  }

  private corrupt(
    key: string,
    info: ArtifactInfo,
    actual: { size: number; sha256: string } | undefined,
    why: string,
    cause?: unknown,
  ): UnlearnError {
    return new UnlearnError(
      'UNLEARN_ARTIFACT_CORRUPT',
      `Artifact "${key}" in ${this.location} cannot be trusted: ${why}${
        actual ? ` (${actual.size} bytes, SHA-256 ${actual.sha256}; recorded ${info.size} bytes, SHA-256 ${info.sha256})` : ''
      }. Nothing was written; run the cell that writes it again.`,
      {
        details: {
          key,
          location: this.location,
          expectedSize: info.size,
          expectedSha256: info.sha256,
          actualSize: actual?.size,
          actualSha256: actual?.sha256,
        },
        ...(cause === undefined ? {} : { cause }),
      },
    );
  }
}
