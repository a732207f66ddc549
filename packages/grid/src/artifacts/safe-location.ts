/**
 * A Redis URL as it may be logged: the password (in the user-info part, or a `password` query
 * parameter) replaced by `***`, so `redis://:secret@host:6379/0` becomes
 * `redis://:***@host:6379/0`.
 *
 * @remarks Grid logs, `unlearn grid status` and error messages show where artifacts and jobs
 * live; they end up in CI logs and bug reports, which must never carry the Redis password. A
 * string that is not a parseable URL has everything between `//` and `@` masked instead.
 *
 * @param url - a `redis://` or `rediss://` URL
 * @returns the same URL without its password
 * @example
 * ```ts
 * redactRedisUrl('rediss://worker:hunter2@redis.lan:6380/1'); // 'rediss://worker:***@redis.lan:6380/1'
 * ```
 */
export function redactRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
  // The user name stays: it says which ACL user a worker logs in as, and is no secret.
  if (parsed.password !== '') parsed.password = '***';
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
  return parsed.toString();
}
