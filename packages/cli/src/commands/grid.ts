import { promises as fs } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { UnlearnError, writeFileAtomic } from '@unlearnjs/core';
import {
  type GridSpec,
  cellArtifactKey,
  checkQueue,
  collectGridResults,
  connectQueue,
  describeGrid,
  enqueueGrid,
  enqueuedGridSpec,
  expandGrid,
  fetchGridReport,
  gridSpecFromFlags,
  gridStatus,
  openArtifactStore,
  parseGridSpec,
  readGridSpecFile,
  redactRedisUrl,
  runGridEmbedded,
  writeGridReport,
} from '@unlearnjs/grid';
import { type Command, Option } from 'commander';
import { type CliIo, addCellRunOptions } from '../common-options.js';
import { presetGrid, presetGridMethods } from '../grid/cell-config.js';
import { cellProcessExecutor } from '../grid/cell-process.js';
import { createCellCheck } from '../grid/run-cell.js';
import { PRESET_NAMES } from '../pipeline/presets.js';
import { integer } from '../reference-args.js';

/** The grid from `--spec FILE` and the axis flags (flags override the file's keys). */
async function gridFromOptions(opts: Record<string, string | undefined>): Promise<GridSpec> {
  const fromFlags = gridSpecFromFlags({
    name: opts.name,
    preset: opts.preset,
    models: opts.models,
    seeds: opts.seeds,
    scenarios: opts.scenarios,
    sparsities: opts.sparsities,
    methods: opts.methods,
    trainLimit: opts.trainLimit,
    testLimit: opts.testLimit,
  });
  const fromFile = opts.spec ? await readGridSpecFile(opts.spec) : undefined;
  const given: Record<string, unknown> = { ...(fromFile ?? {}), ...fromFlags };
  if (fromFile?.data && fromFlags.data) given.data = { ...fromFile.data, ...(fromFlags.data as object) };
  const preset = typeof given.preset === 'string' ? given.preset : 'quick';
  // The preset's own grid fills the axes the file and the flags leave out.
  const raw = { ...presetGrid(preset), ...given };
  const spec = parseGridSpec(raw, {
    source: opts.spec ?? 'the command line',
    defaults: { methods: presetGridMethods(preset) },
    // Without a file every key came from a flag (or the preset, whose grid is valid): name the flag.
    ...(opts.spec ? {} : { keyStyle: 'flag' as const }),
  });
  return withPresetOptions(spec);
}

/**
 * The preset is the recipe of every cell: a method named without options (`--methods ft`, or
 * `- ft` in a file) runs with the preset's options for it (the quick preset's 2 epochs of FT),
 * not with the method's own defaults (the reference's 10 epochs; 182 for retrain).
 */
function withPresetOptions(spec: GridSpec): GridSpec {
  const recipe = presetGridMethods(spec.preset);
  const methods = spec.methods.map((m) => {
    const options = m.options ?? recipe.find((r) => r.method === m.method)?.options;
    return options === undefined ? m : { ...m, options };
  });
  return { ...spec, methods };
}

/**
 * Refuse a grid this process cannot run before anything runs: its preset, models and methods
 * must be known (first-party or `--plugin`) and every method's options must pass its schema.
 */
async function checkGrid(spec: GridSpec, plugins: readonly string[]): Promise<void> {
  const check = await createCellCheck(plugins);
  for (const cell of expandGrid(spec)) check(cell, spec);
}

function addGridFlags(cmd: Command): Command {
  return cmd
    .option('--spec <file>', 'grid spec, JSON or YAML (flags below override its keys)')
    .option('--name <name>', 'grid name (folder and queue key)')
    .addOption(new Option('--preset <name>', 'recipe of every cell').choices(PRESET_NAMES))
    .option('--models <list>', 'model ids, comma-separated (resnet18,vit)')
    .option('--seeds <list>', 'seeds, comma-separated (1,2,3)')
    .option('--scenarios <list>', 'forgetting scenarios: class:C, class:C:N, random:N, comma-separated')
    .option('--sparsities <list>', 'sparsities, 0 = dense (0,0.95)')
    .option('--methods <list>', "methods (retrain,ft,ft+lora,ga,...; default: the preset's)")
    .option('--train-limit <n>', 'use only the first N training images')
    .option('--test-limit <n>', 'use only the first N test images');
}

/**
 * `unlearn grid` and `unlearn grid status`: run a grid here (embedded runner), or put it on a
 * BullMQ queue for `unlearn worker`s.
 * @param program - the root program
 * @param io - output streams
 */
export function addGridCommand(program: Command, io: CliIo): void {
  const grid = addCellRunOptions(
    addGridFlags(
      program
        .command('grid')
        // `grid status --queue …`: options after `status` are the subcommand's, not the grid's own
        // `--queue` (commander would otherwise give them to the parent).
        .enablePositionalOptions()
        .description(
          'Run an experiment grid (models × seeds × scenarios × sparsities × methods) and report mean ± std over seeds: here on a local process pool, or with --queue on BullMQ workers.',
        ),
    ),
  )
    .option('--save-dir <dir>', 'output folder (default runs/grid-<name>)')
    .option('--artifacts <location>', 'artifact store: a shared folder or a redis:// URL (default <save-dir>/artifacts)')
    .option('--jobs <n>', 'embedded runner: cells run at once (default: one per core)', integer('--jobs', 1, 256))
    .option('--queue <url>', 'enqueue on this Redis (redis:// or rediss://) for `unlearn worker`s instead of running here')
    .option('--no-wait', 'with --queue: enqueue and return; do not wait for the report')
    .action(async (opts) => {
      if (opts.queue && !opts.artifacts) {
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          '--queue needs --artifacts: the store (a shared folder or a redis:// URL) the workers write to and the report is read from.',
        );
      }
      const spec = await gridFromOptions(opts);
      await checkGrid(spec, opts.plugin);
      const saveDir = path.resolve(opts.saveDir ?? path.join('runs', `grid-${spec.name}`));
      const artifacts = opts.artifacts ?? path.join(saveDir, 'artifacts');
      const reportDir = path.join(saveDir, 'report');
      await fs.mkdir(saveDir, { recursive: true });
      await writeFileAtomic(path.join(saveDir, 'grid.json'), `${JSON.stringify(spec, null, 2)}\n`);
      io.stderr(`unlearn grid "${spec.name}": ${describeGrid(spec)}\n`);
      const store = await openArtifactStore(artifacts, { namespace: spec.name });
      try {
        if (opts.queue) {
          const connection = connectQueue(opts.queue);
          try {
            await checkQueue(connection, opts.queue);
            const { existed } = await enqueueGrid(spec, { connection });
            io.stderr(
              `${existed ? 'already on' : 'enqueued on'} ${redactRedisUrl(opts.queue)}; start workers with: unlearn worker --queue <url> --artifacts ${redactRedisUrl(artifacts)}\n`,
            );
            if (!opts.wait) return;
            await waitForReport(spec, connection, io);
          } finally {
            connection.disconnect();
          }
          await fetchGridReport(store, reportDir);
        } else {
          const execute = cellProcessExecutor({
            artifacts,
            workDir: path.join(saveDir, 'work'),
            dataDir: opts.data,
            backend: opts.backend,
            plugins: opts.plugin,
          });
          const cells = expandGrid(spec);
          let finished = 0;
          const { failures } = await runGridEmbedded({
            cells,
            jobs: opts.jobs ?? availableParallelism(),
            execute: (cell, run) => execute(spec, cell, run),
            isDone: async (cell) => (await store.stat(cellArtifactKey(cell))) !== undefined,
            onState: (cell, state, failure) => {
              if (state === 'running') io.stderr(`[grid] ${cell.id}: running\n`);
              if (state === 'done' || state === 'failed') finished += 1;
              if (state === 'done') io.stderr(`[grid] ${cell.id}: done (${finished}/${cells.length})\n`);
              if (failure) io.stderr(`[grid] ${cell.id}: failed: ${failure.message} [${failure.code}] (${finished}/${cells.length})\n`);
            },
          });
          const results = await collectGridResults(spec, store, failures);
          await writeGridReport(results, reportDir);
        }
      } finally {
        await store.close();
      }
      io.stdout(`${(await fs.readFile(path.join(reportDir, 'results.md'), 'utf8')).trim()}\n`);
      io.stderr(`report: ${path.join(reportDir, 'report.html')}\n`);
    });

  grid
    .command('status')
    .description('Show done / running / failed / waiting per cell of a grid on the queue.')
    .requiredOption('--queue <url>', 'the Redis the grid was enqueued on')
    .requiredOption('--name <name>', 'the grid name')
    .option('--cells', 'list every cell, not only the counts and failures')
    .action(async (opts) => {
      const connection = connectQueue(opts.queue);
      try {
        await checkQueue(connection, opts.queue);
        const raw = await enqueuedGridSpec(opts.name, { connection });
        if (raw === undefined) throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `No grid named "${opts.name}" on this queue.`);
        const spec = parseGridSpec(raw, { source: 'the queue' });
        const status = await gridStatus(spec, { connection });
        const c = status.counts;
        io.stdout(
          `grid "${spec.name}": ${c.done} done, ${c.running} running, ${c.failed} failed, ${c.waiting} waiting; report ${status.reportDone ? 'written' : 'not yet written'}\n`,
        );
        for (const cell of status.cells) {
          if (opts.cells || cell.state === 'failed' || cell.state === 'running') {
            io.stdout(`${cell.state.padEnd(8)} ${cell.id}${cell.failure ? `  ${cell.failure.message} [${cell.failure.code}]` : ''}\n`);
          }
        }
      } finally {
        connection.disconnect();
      }
    });
}

/** Poll the queue until the grid's report is written, printing each change of the counts. */
async function waitForReport(spec: GridSpec, connection: ReturnType<typeof connectQueue>, io: CliIo): Promise<void> {
  let last = '';
  for (;;) {
    const status = await gridStatus(spec, { connection });
    const c = status.counts;
    const line = `${c.done} done, ${c.running} running, ${c.failed} failed, ${c.waiting} waiting`;
    if (line !== last) io.stderr(`[grid] ${line}\n`);
    last = line;
    if (status.reportDone) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
