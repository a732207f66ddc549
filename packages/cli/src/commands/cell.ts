import { promises as fs } from 'node:fs';
import { UnlearnError, isUnlearnError, writeFileAtomic } from '@unlearnjs/core';
import { openArtifactStore, parseGridJob } from '@unlearnjs/grid';
import type { Command } from 'commander';
import { type CliIo, addCellRunOptions } from '../common-options.js';
import { runCell } from '../grid/run-cell.js';
import { exitWithParent } from '../pipeline/row-worker.js';

/**
 * `unlearn cell` (hidden): run one grid cell, the process that `unlearn grid` and
 * `unlearn worker` start per cell.
 * @param program - the root program
 * @param io - output streams
 */
export function addCellCommand(program: Command, io: CliIo): void {
  addCellRunOptions(program.command('cell', { hidden: true }))
    .description('Run one grid cell (started by `unlearn grid` and `unlearn worker`).')
    .requiredOption('--job <file>', 'the cell job (JSON payload)')
    .requiredOption('--artifacts <location>', 'artifact store: a folder or a redis:// URL')
    .requiredOption('--work-dir <dir>', 'local working folder')
    .option('--error-file <file>', 'where to write the coded error when the cell fails')
    .option('--exit-with-parent', 'exit when stdin closes (the parent process is gone)')
    .action(async (opts) => {
      const stop = opts.exitWithParent ? exitWithParent() : () => {};
      try {
        const job = parseGridJob(JSON.parse(await fs.readFile(opts.job, 'utf8')));
        if (job.kind !== 'cell') throw new UnlearnError('UNLEARN_INVALID_JOB', `${opts.job} is a ${job.kind} job, not a cell.`);
        const store = await openArtifactStore(opts.artifacts, { namespace: job.grid });
        try {
          await runCell(
            job.spec,
            job.cell,
            store,
            { dataDir: opts.data, backend: opts.backend, plugins: opts.plugin, outDir: opts.workDir },
            { stream: { write: io.stderr } },
          );
        } finally {
          await store.close();
        }
      } catch (err) {
        if (opts.errorFile) {
          const code = isUnlearnError(err) ? err.code : 'UNLEARN_UNKNOWN';
          await writeFileAtomic(opts.errorFile, JSON.stringify({ code, message: (err as Error).message }));
        }
        throw err;
      } finally {
        stop();
      }
    });
}
