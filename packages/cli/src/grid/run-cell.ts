import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UnlearnError, createContainer, createPlugin, loadModel, parseOptions } from '@unlearnjs/core';
import { type ArtifactStore, type Cell, type GridSpec, cellArtifactKey, expandGrid, putJson } from '@unlearnjs/grid';
import { sparsityReport } from '@unlearnjs/pruning-imp';
import { type RunPipelineOptions, computeRow, preparePipeline, pruneToSparse, trainDense } from '../pipeline/run-pipeline.js';
import { FIRST_PARTY_PLUGINS, loadPluginPackages } from '../plugins.js';
import { type CellEnvironment, cellPipelineConfig, gridPresetConfig } from './cell-config.js';

/**
 * Run one grid cell in this process: fetch the model it starts from (verified) from the store,
 * compute, and put its artifact into the store. Its local files live in
 * `env.outDir/<cell id>/` (the dense training's per-epoch checkpoint among them, so a cell
 * restarted on the same machine resumes).
 *
 * @param spec - the grid
 * @param cell - the cell
 * @param store - the grid's artifact store
 * @param env - data folder, backend, plugins, working folder
 * @param options - log stream
 */
export async function runCell(
  spec: GridSpec,
  cell: Cell,
  store: ArtifactStore,
  env: CellEnvironment,
  options: RunPipelineOptions = {},
): Promise<void> {
  const dir = path.join(env.outDir, ...cell.id.split('/'));
  await fs.mkdir(dir, { recursive: true });
  const config = cellPipelineConfig(spec, cell, { ...env, outDir: dir });
  const ctx = await preparePipeline(config, options);
  try {
    if (cell.kind === 'dense') {
      const file = path.join(dir, 'dense.ckpt');
      await trainDense(ctx, file, path.join(dir, 'dense.train.ckpt'));
      await store.put(cellArtifactKey(cell), file);
      return;
    }
    const input = path.join(dir, 'input.ckpt');
    const from = expandGrid(spec).find((c) => c.id === cell.needs[0]) as Cell;
    if (cell.kind === 'prune') {
      if (!config.prune) {
        throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `preset "${spec.preset}" has no pruner; use sparsity 0 only.`);
      }
      // A pruner that trains the dense model itself (the paper preset's OMP: train, prune, rewind
      // to an early epoch of that training, retrain) starts from the seed's initial weights, as
      // in the pipeline: its rewind point exists only in its own training. Its round 0 repeats a
      // dense training (the dense rows keep the dense cell's model). Any other pruner prunes the
      // dense cell's trained model.
      if (!config.prune.trainsDense) {
        await store.get(cellArtifactKey(from), input);
        await loadModel(input, ctx.model);
      }
      const file = path.join(dir, 'sparse.ckpt');
      await pruneToSparse(ctx, config.prune, path.join(dir, 'prune'), file);
      await store.put(cellArtifactKey(cell), file);
      return;
    }
    await store.get(cellArtifactKey(from), input);
    const variant =
      cell.sparsity === 0
        ? { name: 'dense' as const, checkpoint: input, sparsity: 0 }
        : { name: 'sparse' as const, checkpoint: input, sparsity: await measuredSparsity(ctx.model, input) };
    const row = await computeRow(ctx, {
      variant,
      method: { method: cell.method, ...(cell.options ? { options: cell.options } : {}), ...(cell.lora ? { lora: true } : {}) },
    });
    await putJson(store, cellArtifactKey(cell), row);
  } finally {
    ctx.model.dispose();
  }
}

/** The global sparsity of a checkpoint, from its masks (what the row reports, as the pipeline). */
async function measuredSparsity(model: Parameters<typeof loadModel>[1], file: string): Promise<number> {
  await loadModel(file, model);
  return sparsityReport(model).global;
}

/**
 * The one check, before a cell runs or a grid is enqueued, that this process can run a cell: the
 * grid's preset knows the cell's model, its model and method are plugins this process has
 * (first-party, or loaded with its own `--plugin`), and the method's options pass the method's
 * schema. `unlearn grid` checks every cell with it before anything runs; `unlearn worker`
 * checks each job's cell.
 * @param plugins - the third-party plugin packages of this process (`--plugin`)
 * @returns the check; it throws the plugin's or the schema's UnlearnError
 */
export async function createCellCheck(plugins: readonly string[]): Promise<(cell: Cell, spec: GridSpec) => void> {
  const container = createContainer({ use: [...FIRST_PARTY_PLUGINS, ...(await loadPluginPackages(plugins))] });
  return (cell, spec) => {
    gridPresetConfig(spec, cell.model);
    createPlugin(container, 'model', cell.model);
    if (cell.kind === 'row' && cell.method !== 'original') {
      const unlearner = createPlugin(container, 'unlearner', cell.method);
      parseOptions(unlearner.optionsSchema, cell.options ?? {}, `unlearner "${cell.method}"`);
    }
  };
}
