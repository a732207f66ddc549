import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UnlearnError, type UnlearnErrorCode, writeFileAtomic } from '@unlearnjs/core';
import { type Cell, type GridJobPayload, type GridSpec, JOB_PAYLOAD_VERSION } from '@unlearnjs/grid';
import { spawnCliProcess } from '../pipeline/row-worker.js';

/** The worker's own settings that every cell process inherits (never taken from a job). */
export interface CellProcessOptions {
  /** The artifact store (`--artifacts`): a folder or a redis:// URL. */
  artifacts: string;
  /** Local working folder: job files, per-cell files, resumable training checkpoints. */
  workDir: string;
  dataDir?: string;
  backend?: string;
  plugins?: readonly string[];
}

/**
 * The CLI's cell executor: one `unlearn cell` process per cell, so that every cell starts from
 * a fresh process (same numbers whichever runner or worker runs it; the 4 GiB wasm heap is
 * the cell's alone) and the runner's event loop stays free to renew its BullMQ locks. The child
 * exits with its parent (even on kill -9) and reports its coded error through a file.
 *
 * @param options - store, working folder, data, backend, plugins
 * @returns an executor for `runGridEmbedded` and `startGridWorker`
 */
export function cellProcessExecutor(options: CellProcessOptions) {
  return async (spec: GridSpec, cell: Cell, run: { signal?: AbortSignal } = {}): Promise<void> => {
    const base = path.join(path.resolve(options.workDir), 'jobs', ...cell.id.split('/'));
    await fs.mkdir(path.dirname(base), { recursive: true });
    const jobFile = `${base}.job.json`;
    const errorFile = `${base}.error.json`;
    const payload: GridJobPayload = { v: JOB_PAYLOAD_VERSION, kind: 'cell', grid: spec.name, spec, cell: cell.id };
    await writeFileAtomic(jobFile, JSON.stringify(payload));
    await fs.rm(errorFile, { force: true });
    const args = [
      'cell',
      '--job',
      jobFile,
      '--artifacts',
      options.artifacts,
      '--work-dir',
      options.workDir,
      '--error-file',
      errorFile,
      '--exit-with-parent',
    ];
    if (options.dataDir) args.push('--data', options.dataDir);
    if (options.backend) args.push('--backend', options.backend);
    if (options.plugins?.length) args.push('--plugin', ...options.plugins);
    const child = spawnCliProcess(args, {
      what: `The process of cell ${cell.id}`,
      hint: 'the cell is retried.',
      details: { cell: cell.id },
    });
    const onAbort = () => child.stop();
    run.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await child.done;
    } catch (crash) {
      // The child's own coded error, when it lived to write it, says more than its exit code.
      const reported = await fs.readFile(errorFile, 'utf8').then(
        (t) => JSON.parse(t) as { code?: string; message?: string },
        () => undefined,
      );
      if (reported?.code?.startsWith('UNLEARN_')) {
        throw new UnlearnError(reported.code as UnlearnErrorCode, reported.message ?? 'cell failed', { details: { cell: cell.id } });
      }
      throw crash;
    } finally {
      run.signal?.removeEventListener('abort', onAbort);
    }
  };
}
