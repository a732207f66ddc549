import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { CLI_DATA_OPTION_NAMES, type CliIo, addCommonOptions } from '../common-options.js';
import { runPipeline } from '../pipeline/run-pipeline.js';
import { PRESET_NAMES, type PresetName, presetConfig } from '../pipeline/presets.js';
import { integer } from '../reference-args.js';
import { checkDataset } from './checks.js';

/**
 * `unlearn run`: the whole pipeline from a preset.
 * @param program - the root program
 * @param io - output streams
 */
export function addRunCommand(program: Command, io: CliIo): void {
  // The pipeline is not a reference command: its seed is the preset's (1), not arg_parser's 2.
  addCommonOptions(
    program
      .command('run')
      .description('Run the whole pipeline (train → prune → unlearn with every method → evaluate → report) from a preset.')
      .addOption(
        new Option(
          '--preset <name>',
          'ci (tiny, CI), quick (2-core CPU, ~10 min), standard (full data, 30 epochs, ResNet-18 only: ~9 h on 2 cores), paper (reference recipe, GPU)',
        )
          .choices(PRESET_NAMES)
          .default('quick'),
      )
      .addOption(new Option('--arch <name>', 'model').choices(['resnet18', 'vit']).default('resnet18'))
      .option('--save-dir <dir>', 'output folder (default runs/<arch>-<preset>)')
      .option(
        '--jobs <n>',
        'processes sharing the unlearning rows (default: one per core, at most 2, on wasm/cpu)',
        integer('--jobs', 1, 64),
      ),
    1,
  ).action(async (opts) => {
    checkDataset(opts.dataset);
    const config = presetConfig(opts.preset as PresetName, opts.arch);
    const res = await runPipeline(
      {
        ...config,
        backend: opts.backend,
        ...(opts.wasmThreads !== undefined ? { wasmThreads: opts.wasmThreads } : {}),
        seed: opts.seed,
        plugins: opts.plugin,
        quiet: opts.quiet,
        outDir: opts.saveDir ?? config.outDir,
        jobs: opts.jobs ?? 'auto',
        data: {
          ...config.data,
          dir: opts.data ?? config.data.dir,
          download: opts.download,
          trainLimit: opts.trainLimit ?? config.data.trainLimit,
          testLimit: opts.testLimit ?? config.data.testLimit,
        },
      },
      { stream: { write: io.stderr }, dataOptionNames: CLI_DATA_OPTION_NAMES },
    );
    io.stdout(`${(await fs.readFile(path.join(res.reportDir, 'results.md'), 'utf8')).trim()}\n`);
  });
}
