import * as path from 'node:path';
import { isUnlearnError } from '@unlearnjs/core';
import { checkQueue, connectQueue, openArtifactStore, redactRedisUrl, startGridWorker } from '@unlearnjs/grid';
import type { Command } from 'commander';
import { type CliIo, addCellRunOptions } from '../common-options.js';
import { cellProcessExecutor } from '../grid/cell-process.js';
import { createCellCheck } from '../grid/run-cell.js';
import { integer } from '../reference-args.js';

/**
 * `unlearn worker`: pull grid cells from a BullMQ queue and run them, one at a time, until
 * SIGTERM/SIGINT (the running cell finishes first; a second signal stops it, and another worker
 * takes it over once its lock expires).
 * @param program - the root program
 * @param io - output streams
 */
export function addWorkerCommand(program: Command, io: CliIo): void {
  addCellRunOptions(program.command('worker'), 'third-party plugin packages this worker may run (a job can never name one)')
    .description('Run grid cells from a BullMQ queue (see `unlearn grid --queue`).')
    .requiredOption('--queue <url>', 'the Redis of the grid (redis:// or rediss://)')
    .requiredOption('--artifacts <location>', 'artifact store shared by the workers: a folder (e.g. an NFS mount) or a redis:// URL')
    .option('--work-dir <dir>', "this worker's local folder (default .unlearnjs-worker)")
    .option(
      '--lock-ms <ms>',
      'job lock: a killed worker loses its cell this long after its last renewal',
      integer('--lock-ms', 1000),
      30000,
    )
    .action(async (opts) => {
      const plugins: string[] = opts.plugin;
      const checkCell = await createCellCheck(plugins);
      const connection = connectQueue(opts.queue);
      await checkQueue(connection, opts.queue);
      const execute = cellProcessExecutor({
        artifacts: opts.artifacts,
        workDir: path.resolve(opts.workDir ?? '.unlearnjs-worker'),
        dataDir: opts.data,
        backend: opts.backend,
        plugins,
      });
      const log = (line: string) => io.stderr(`[worker ${process.pid}] ${line}\n`);
      const { close } = startGridWorker({
        connection,
        execute: (job, run) => execute(job.spec, job.cell, run),
        checkCell,
        openStore: (grid) => openArtifactStore(opts.artifacts, { namespace: grid }),
        lockMs: opts.lockMs,
        log,
      });
      log(
        `ready: queue ${redactRedisUrl(opts.queue)}, artifacts ${opts.artifacts}, plugins ${plugins.length ? plugins.join(' ') : '(first-party only)'}`,
      );
      await new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = (sig: string) => {
          signals += 1;
          if (signals === 1) {
            log(`${sig}: finishing the running cell, then stopping (send it again to stop now)`);
            close(false).then(resolve, (err) => {
              log(`close: ${isUnlearnError(err) ? err.code : ''} ${(err as Error).message}`);
              resolve();
            });
          } else {
            log(`${sig} again: stopping now; the running cell goes to another worker when its lock expires`);
            close(true).finally(resolve);
          }
        };
        process.on('SIGTERM', () => onSignal('SIGTERM'));
        process.on('SIGINT', () => onSignal('SIGINT'));
      });
      connection.disconnect();
      log('stopped');
    });
}
