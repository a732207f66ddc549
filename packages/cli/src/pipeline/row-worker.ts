import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
  return spawnCliProcess(options.args ?? ['rows', '--save-dir', out, '--shard', `${shard}/${shards}`, '--exit-with-parent'], {
    what: `Row worker ${shard}/${shards}`,
    hint: 'the rows it finished are kept: re-run to resume, or use --jobs 1 to see its error here.',
    details: { shard, shards },
  });
}

/**
 * The node arguments that run the `unlearn` CLI in one process: its compiled `bin.js`, or from
 * source its `bin.ts` with tsx as an import hook (`--import`), not tsx's own CLI, which would
 * put a second process between us and the command: a kill -9 would then reach only the wrapper.
 * @returns arguments for `node`, before the command's own
 */
export function cliEntryArgs(): string[] {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const bin = path.join(path.dirname(here), '..', fromSource ? 'bin.ts' : 'bin.js');
  if (!fromSource) return [bin];
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', loader, '--conditions=@unlearnjs/source', bin];
}

/**
 * Start an `unlearn` command in a child process on the same Node (and the tsx loader, from
 * source), with stdin a pipe only this process writes to (see {@link exitWithParent}).
 *
 * @param args - the command's arguments after the bin
 * @param about - how the crash error names the process, what to do, and its details
 * @returns `done` resolves when it exits 0 and rejects with UnlearnError `UNLEARN_WORKER_CRASHED`
 *   otherwise; `stop()` ends it (SIGTERM)
 */
export function spawnCliProcess(
  args: readonly string[],
  about: { what: string; hint: string; details?: Record<string, unknown> },
): { done: Promise<void>; stop(): void } {
  const child = spawn(process.execPath, [...cliEntryArgs(), ...args], { stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) return resolve();
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(
        new UnlearnError('UNLEARN_WORKER_CRASHED', `${about.what} ${how}; ${about.hint}`, {
          details: { ...about.details, code, signal },
        }),
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
