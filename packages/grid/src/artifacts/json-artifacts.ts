import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnlearnError } from '@unlearnjs/core';
import type { ArtifactInfo, ArtifactStore } from '../types.js';

/**
 * Store a JSON value (a result row) under `key`, through a temp file, with the store's
 * atomicity and checksum.
 *
 * @param store - any artifact store
 * @param key - the artifact key
 * @param value - anything `JSON.stringify` accepts
 * @returns the stored artifact's identity
 * @throws what `store.put` throws
 * @example
 * ```ts
 * await putJson(store, cellArtifactKey(cell), row);
 * ```
 */
export async function putJson(store: ArtifactStore, key: string, value: unknown): Promise<ArtifactInfo> {
  return withTempDir(async (dir) => {
    const file = path.join(dir, 'value.json');
    await fs.writeFile(file, `${JSON.stringify(value)}\n`);
    return store.put(key, file);
  });
}

/**
 * Read back a JSON value stored with {@link putJson}, verified by the store.
 *
 * @remarks Returns `unknown`: the bytes are intact, but what they hold is for the caller to
 * validate (a zod schema), since a job or an older release may have written it.
 *
 * @param store - any artifact store
 * @param key - the artifact key
 * @returns the parsed value
 * @throws UnlearnError `UNLEARN_ARTIFACT_MISSING` / `UNLEARN_ARTIFACT_CORRUPT` as `store.get`,
 *   and `UNLEARN_ARTIFACT_CORRUPT` when the artifact is not JSON
 * @example
 * ```ts
 * const row = resultRowSchema.parse(await getJson(store, cellArtifactKey(cell)));
 * ```
 */
export async function getJson(store: ArtifactStore, key: string): Promise<unknown> {
  return withTempDir(async (dir) => {
    const file = path.join(dir, 'value.json');
    const info = await store.get(key, file);
    const text = await fs.readFile(file, 'utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new UnlearnError(
        'UNLEARN_ARTIFACT_CORRUPT',
        `Artifact "${key}" in ${store.location} is not JSON (${(err as Error).message}); run the cell that writes it again.`,
        { details: { key, location: store.location, sha256: info.sha256 }, cause: err },
      );
    }
  });
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unlearnjs-artifact-'));
  try {
    return await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
