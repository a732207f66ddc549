/**
 * The grid's artifact stores: a shared folder (content-addressed) and Redis (chunked), both
 * checksummed and atomic, behind `ArtifactStore`.
 */
export { ARTIFACT_KEY_MAX_LENGTH, validateArtifactKey } from './artifact-key.js';
export { type DirArtifactStoreOptions, openDirArtifactStore } from './dir-artifact-store.js';
export { getJson, putJson } from './json-artifacts.js';
export { type ArtifactStoreOptions, openArtifactStore } from './open-artifact-store.js';
export {
  DEFAULT_ARTIFACT_CHUNK_BYTES,
  DEFAULT_ARTIFACT_MAX_BYTES,
  DEFAULT_ARTIFACT_READ_GRACE_MS,
  DEFAULT_ARTIFACT_UPLOAD_TTL_MS,
  openRedisArtifactStore,
  type RedisArtifactStoreOptions,
} from './redis-artifact-store.js';
export { redactRedisUrl } from './safe-location.js';
