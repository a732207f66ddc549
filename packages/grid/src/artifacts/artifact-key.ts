import { UnlearnError } from '@unlearnjs/core';

/** The longest artifact key accepted, in characters. */
export const ARTIFACT_KEY_MAX_LENGTH = 512;

// One segment: the characters that are safe as a file name on every file system the stores
// use (POSIX, NFS, SMB) and in a Redis key next to the `:` separators, which it cannot hold.
const SEGMENT = /^[A-Za-z0-9._+=-]+$/;

/**
 * Check that `key` is an artifact key both stores can hold without escaping their root: a
 * relative `/`-separated path of `[A-Za-z0-9._+=-]` segments, none empty, `.` or `..`, at most
 * {@link ARTIFACT_KEY_MAX_LENGTH} characters.
 *
 * @remarks Keys come from cell ids, which a job payload carries; a key such as `../x` or
 * `/etc/x` would let a job write outside the directory store, so both stores refuse them here,
 * before any file or Redis key is touched.
 *
 * @param key - the key to check
 * @returns `key`, unchanged
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming the key and what is wrong with it
 * @example
 * ```ts
 * validateArtifactKey('models/resnet18/s1/dense.ckpt'); // ok
 * validateArtifactKey('../x'); // throws UNLEARN_INVALID_OPTIONS
 * ```
 */
export function validateArtifactKey(key: string): string {
  const why = keyProblem(key);
  if (why === undefined) return key;
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key) : String(key);
  throw new UnlearnError(
    'UNLEARN_INVALID_OPTIONS',
    `Invalid artifact key ${shown}: ${why}. Use a relative path of [A-Za-z0-9._+=-] segments separated by "/", such as "models/resnet18/s1/dense.ckpt".`,
    { details: { key, reason: why } },
  );
}

function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'it is not a string';
  if (key.length === 0) return 'it is empty';
  if (key.length > ARTIFACT_KEY_MAX_LENGTH) return `it is longer than ${ARTIFACT_KEY_MAX_LENGTH} characters`;
  if (key.startsWith('/')) return 'it is absolute (starts with "/")';
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (!SEGMENT.test(segment)) return `segment ${JSON.stringify(segment)} has a character outside [A-Za-z0-9._+=-]`;
  }
  return undefined;
}
