import { createRequire } from 'node:module';
import { isUnlearnError } from '@unlearnjs/core';
import { Command } from 'commander';
import { addCellCommand } from './commands/cell.js';
import { addEvalCommand } from './commands/eval.js';
import { addForgetCommand } from './commands/forget.js';
import { addGridCommand } from './commands/grid.js';
import { addExportCommand, addImportCommand } from './commands/import-export.js';
import { addPruneCommand } from './commands/prune.js';
import { addReportCommand } from './commands/report.js';
import { addRowsCommand } from './commands/rows.js';
import { addRunCommand } from './commands/run.js';
import { addWorkerCommand } from './commands/worker.js';
import type { CliIo } from './common-options.js';
import { normaliseFlags } from './reference-args.js';

export type { CliIo } from './common-options.js';

/** This package's version: src/ and dist/ both sit one level below package.json. */
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

const defaultIo: CliIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

/**
 * Build the `unlearn` command-line program: one file per command under `commands/`.
 * @param io - output streams
 * @returns the commander program (call `parseAsync`)
 */
export function createProgram(io: CliIo = defaultIo): Command {
  const program = new Command('unlearn')
    .description('Machine unlearning for TensorFlow.js: prune, forget, evaluate, report.')
    .version(VERSION, '-V, --version', 'print the version of @unlearnjs/cli')
    .showHelpAfterError('(run with --help for usage)')
    // Everything after a command name is that command's: `grid status --queue …` gives
    // `--queue` to `status`, not to `grid`, which has a `--queue` of its own.
    .enablePositionalOptions()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  addRunCommand(program, io);
  addGridCommand(program, io);
  addWorkerCommand(program, io);
  addPruneCommand(program, io);
  addForgetCommand(program, io);
  addEvalCommand(program, io);
  addImportCommand(program, io);
  addExportCommand(program, io);
  addRowsCommand(program, io);
  addCellCommand(program, io);
  addReportCommand(program, io);
  return program;
}

/**
 * Run the CLI: one clear line and a non-zero exit on bad input, never a stack trace unless
 * `UNLEARN_DEBUG=1`.
 *
 * @param argv - arguments after `node unlearn`
 * @param io - output streams
 * @returns the exit code
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(normaliseFlags(argv), { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander already printed its message (help, version, or a usage error)
      return e.exitCode ?? 1;
    }
    // By code, not instanceof: a plugin built against its own copy of core throws errors of
    // another UnlearnError class with the same shape.
    if (isUnlearnError(err) || (typeof e.code === 'string' && e.code.startsWith('UNLEARN_'))) {
      io.stderr(`unlearn: error: ${e.message} [${e.code}]\n`);
      if (process.env.UNLEARN_DEBUG) io.stderr(`${(err as Error).stack}\n`);
      return 2;
    }
    io.stderr(`unlearn: unexpected error: ${e.message ?? String(err)} (set UNLEARN_DEBUG=1 for the stack trace)\n`);
    if (process.env.UNLEARN_DEBUG) io.stderr(`${(err as Error).stack}\n`);
    return 1;
  }
}
