import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnlearnError } from '@unlearnjs/core';

/** Options of {@link spawnRowWorker}. */
export interface SpawnRowWorkerOptions {
  /** The command's arguments after the bin. @defaultValue `rows --save-dir OUT --shard i/n --exit-with-parent` */
  args?: readonly string[];
}

/**
 * Start `unlearn rows` in a child process on the same Node (and the tsx loader, from source).
 *
 * @remarks The child's stdin is a pipe that only this process writes to: when this process dies
 * (even by `kill -9`), the pipe closes and the child, started with `--exit-with-parent`, stops
 * instead of computing rows nobody will read (see {@link exitWithParent}).
 *
 * @param out - the run folder
 * @param shard - this worker's index
 * @param shards - number of workers
 * @param options - arguments override (tests)
 * @returns `done` resolves when the worker exits 0 and rejects with UnlearnError
 *   `UNLEARN_WORKER_CRASHED` when it exits non-zero or is killed; `stop()` ends it (SIGTERM)
 */
export function spawnRowWorker(
  out: string,
  shard: number,
  shards: number,
  options: SpawnRowWorkerOptions = {},
): { done: Promise<void>; stop(): void } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const bin = path.join(path.dirname(here), '..', fromSource ? 'bin.ts' : 'bin.js');
  const prefix = fromSource ? [createRequire(import.meta.url).resolve('tsx/cli'), '--conditions=@unlearnjs/source'] : [];
  const args = [...prefix, bin, ...(options.args ?? ['rows', '--save-dir', out, '--shard', `${shard}/${shards}`, '--exit-with-parent'])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) return resolve();
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(
        new UnlearnError(
          'UNLEARN_WORKER_CRASHED',
          `Row worker ${shard}/${shards} ${how}; the rows it finished are kept: re-run to resume, or use --jobs 1 to see its error here.`,
          { details: { shard, shards, code, signal } },
        ),
      );
    });
  });
  return { done, stop: () => void child.kill('SIGTERM') };
}

/**
 * Make a worker process exit as soon as its parent is gone: the parent holds the only write end
 * of the worker's stdin, so the end of stdin means the parent died.
 *
 * @param stdin - the worker's stdin @defaultValue process.stdin
 * @param exit - what to do then @defaultValue exit with code 129 (hang-up)
 * @returns stop watching (call it when the work is done, so stdin no longer holds the process)
 */
export function exitWithParent(
  stdin: NodeJS.ReadableStream & { destroy?: () => void } = process.stdin,
  exit: () => void = () => process.exit(129),
): () => void {
  const onEnd = () => exit();
  stdin.on('end', onEnd);
  stdin.on('close', onEnd);
  stdin.resume();
  return () => {
    stdin.off('end', onEnd);
    stdin.off('close', onEnd);
    stdin.destroy?.();
  };
}
