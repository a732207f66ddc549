import * as path from 'node:path';
import type { ArtifactStore } from '../types.js';
import { validateArtifactKey } from './artifact-key.js';
import { type DirArtifactStoreOptions, openDirArtifactStore } from './dir-artifact-store.js';
import { openRedisArtifactStore, type RedisArtifactStoreOptions } from './redis-artifact-store.js';

/** Options of {@link openArtifactStore}: those of both stores; each uses its own. */
export interface ArtifactStoreOptions extends RedisArtifactStoreOptions, DirArtifactStoreOptions {}

/**
 * Open the artifact store a `--artifacts` flag names: a `redis://` or `rediss://` URL opens the
 * Redis store ({@link openRedisArtifactStore}), anything else is a folder, created if missing
 * ({@link openDirArtifactStore}).
 *
 * @param location - a Redis URL or a folder path
 * @param options - `namespace` (the grid name, so that grids sharing a Redis stay apart),
 *   and a subfolder of a folder), `maxBytes`, `chunkBytes`, `uploadTtlMs` and `redisOptions` for
 *   Redis; `staleTempMs` for a folder
 * @returns the store; call `close()` when done
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a bad option, `UNLEARN_QUEUE_UNAVAILABLE`
 *   when the Redis cannot be reached or refuses the login
 * @example
 * ```ts
 * const store = await openArtifactStore(flags.artifacts ?? 'runs/grid/artifacts', { namespace: spec.name });
 * console.log(`artifacts: ${store.location}`); // never shows a password
 * ```
 */
export async function openArtifactStore(location: string, options: ArtifactStoreOptions = {}): Promise<ArtifactStore> {
  if (/^rediss?:\/\//i.test(location)) {
    const { staleTempMs: _dirOnly, ...redisOptions } = options;
    return openRedisArtifactStore(location, redisOptions);
  }
  // Grids sharing one folder (an NFS mount named by every worker's --artifacts) stay apart as
  // they do in a shared Redis: each in its own subfolder.
  const dir = options.namespace === undefined ? location : path.join(location, validateArtifactKey(options.namespace));
  return openDirArtifactStore(dir, { staleTempMs: options.staleTempMs });
}
