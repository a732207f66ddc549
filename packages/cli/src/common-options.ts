import type { BackendRequest } from '@unlearnjs/core';
import { MAX_WASM_THREADS } from '@unlearnjs/backend-wasm';
import { type Command, Option } from 'commander';
import { integer } from './reference-args.js';

/** Where the CLI writes: injectable for tests. */
export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** The options every model-running command shares. */
export interface CommonOpts {
  data?: string;
  dataset?: string;
  backend: BackendRequest;
  wasmThreads?: number;
  seed: number;
  plugin: string[];
  quiet?: boolean;
  download?: boolean;
  trainLimit?: number;
  testLimit?: number;
}

/** How data errors name the folder and download options on the command line. */
export const CLI_DATA_OPTION_NAMES = Object.freeze({ dir: '--data', download: '--download' });

/** How forget-set errors name `makeSplits`'s options on the command line. */
export const CLI_SPLIT_NAMES: Readonly<Record<string, string>> = Object.freeze({
  numToForget: '--num-indexes-to-replace',
  classToForget: '--class-to-replace',
  trainLimit: '--train-limit',
  seed: '--seed',
});

/** Help of `--data`: where CIFAR-10 is looked for. */
const DATA_HELP =
  'CIFAR-10 binary folder, or its parent (default: $CIFAR10_DIR, else ../shared/data/cifar10, else ~/.cache/unlearnjs/cifar10)';

/**
 * The `--backend` option, as every command that runs models takes it.
 * @param description - its help line
 */
export function backendOption(description = 'tfjs backend'): Option {
  return new Option('--backend <name>', description).choices(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']).default('auto');
}

/**
 * The options of the commands that run grid cells (`grid`, `worker`, `cell`): where the data
 * is, which backend, which plugins. A worker's own flags, never a job's.
 * @param cmd - the command
 * @param pluginHelp - the help line of `--plugin`
 * @returns the same command
 */
export function addCellRunOptions(
  cmd: Command,
  pluginHelp = 'third-party plugin packages to load (each exports a registerX function)',
): Command {
  return cmd.option('--data <dir>', DATA_HELP).addOption(backendOption()).option('--plugin <package...>', pluginHelp, []);
}

/**
 * Add the options every model-running command shares.
 * @param cmd - the command
 * @param seedDefault - the command's default seed (the reference's 2 for its commands)
 * @returns the same command
 */
export function addCommonOptions(cmd: Command, seedDefault: number): Command {
  return (
    cmd
      .option('--data <dir>', DATA_HELP)
      .option('--dataset <name>', 'data set; only cifar10 is supported', 'cifar10')
      .addOption(backendOption())
      // Default 1: on the 2-core machines this CLI is sized for, 2 wasm threads were measured
      // slower than 1 whenever anything else ran (docs/performance.md, "Threads"), and the
      // pipeline already uses both cores with two row processes.
      .option(
        '--wasm-threads <n>',
        `threads of the wasm backend, 1-${MAX_WASM_THREADS} (default 1; see docs/performance.md "Threads"); in \`run\`, used by the single-process stages`,
        integer('--wasm-threads', 1, MAX_WASM_THREADS),
      )
      .option('--seed <n>', `seed of every random choice (default ${seedDefault})`, integer('--seed', 0), seedDefault)
      .option('--plugin <package...>', 'third-party plugin packages to load (each exports a registerX function)', [])
      .option('--train-limit <n>', 'use only the first N training images (quick runs)', integer('--train-limit', 10))
      .option('--test-limit <n>', 'use only the first N test images', integer('--test-limit', 10))
      .option('--quiet', 'no progress bars')
      .option('--download', 'download CIFAR-10 when the folder is missing')
  );
}
