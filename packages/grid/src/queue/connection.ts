import { UnlearnError } from '@unlearnjs/core';
import { Redis, type RedisOptions } from 'ioredis';
import { redactRedisUrl } from '../artifacts/safe-location.js';

/** The BullMQ queue every grid's jobs go to (one queue; a job's payload names its grid). */
export const GRID_QUEUE = 'unlearnjs-grid';

/**
 * The BullMQ job id of a grid's cell, lineage or report job. Ids are the cell ids under the
 * grid's name, so enqueuing a grid twice adds nothing twice, and any process can find a cell's job.
 * @param grid - grid name
 * @param what - a cell id, `lineage/<model>/s<seed>` or `report`
 */
export function gridJobId(grid: string, what: string): string {
  return `${grid}/${what}`;
}

/**
 * Open a Redis connection for BullMQ from a `redis://` or `rediss://` (TLS) URL, with the
 * password in the URL (`redis://:password@host:6379/0`).
 *
 * @param url - the queue URL
 * @param options - extra ioredis options
 * @returns the connection (BullMQ workers need `maxRetriesPerRequest: null`, set here)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a URL that is not redis:// or rediss://
 */
export function connectQueue(url: string, options: RedisOptions = {}): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `--queue must be a redis:// or rediss:// URL, got "${redactRedisUrl(url)}".`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `--queue must be a redis:// or rediss:// URL, got "${redactRedisUrl(url)}".`);
  }
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false, ...options });
  // ioredis reconnects by itself (a Redis restart must not end a worker); without a listener it
  // would print every failed reconnect as an "unhandled error event". Commands that fail still
  // reject, and BullMQ reports its own errors.
  redis.on('error', () => {});
  return redis;
}

/**
 * Wait until the connection answers, or fail with a clear error (a wrong host, port or password
 * must not leave the command hanging).
 * @param redis - the connection
 * @param url - for the message (the password is hidden)
 * @param timeoutMs - how long to wait @defaultValue 10000
 * @throws UnlearnError `UNLEARN_QUEUE_UNAVAILABLE`
 */
export async function checkQueue(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (cause) {
    throw new UnlearnError(
      'UNLEARN_QUEUE_UNAVAILABLE',
      `Cannot reach the grid's Redis at ${redactRedisUrl(url)}: ${(cause as Error).message}.`,
      {
        details: { url: redactRedisUrl(url) },
        cause,
      },
    );
  } finally {
    clearTimeout(timer);
  }
}
