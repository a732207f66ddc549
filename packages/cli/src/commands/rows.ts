import { UnlearnError } from '@unlearnjs/core';
import type { Command } from 'commander';
import type { CliIo } from '../common-options.js';
import { exitWithParent } from '../pipeline/row-worker.js';
import { runPipelineShard } from '../pipeline/run-pipeline.js';

/**
 * `unlearn rows` (hidden): the worker of `unlearn run --jobs N`.
 * @param program - the root program
 * @param io - output streams
 */
export function addRowsCommand(program: Command, io: CliIo): void {
  program
    .command('rows', { hidden: true })
    .description('Worker of `unlearn run --jobs N`: compute one shard of the unlearning rows of a prepared run.')
    .requiredOption('--save-dir <dir>', 'the run folder')
    .requiredOption('--shard <i/n>', 'which shard')
    .option('--exit-with-parent', 'exit when stdin closes (the parent process is gone)')
    .action(async (opts) => {
      const [i, n] = String(opts.shard).split('/').map(Number);
      if (!Number.isInteger(i) || !Number.isInteger(n) || i < 0 || i >= n) {
        throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `--shard must be i/n with 0 <= i < n, got "${opts.shard}".`);
      }
      const stop = opts.exitWithParent ? exitWithParent() : () => {};
      try {
        await runPipelineShard(opts.saveDir, i, n, { stream: { write: io.stderr } });
      } finally {
        stop();
      }
    });
}
