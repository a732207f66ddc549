import { UnlearnError } from '@unlearnjs/core';
import type { Cell, GridMethod, GridSpec, Scenario } from '@unlearnjs/grid';
import type { MethodSpec, PipelineConfig } from '../pipeline/pipeline-config.js';
import { PRESET_NAMES, type PresetName, presetConfig } from '../pipeline/presets.js';

/** The presets a grid's `preset` may name. */
export const GRID_PRESETS: readonly PresetName[] = PRESET_NAMES;

/** Where a cell reads data and which backend it runs; the worker's own flags, never the job's. */
export interface CellEnvironment {
  /** CIFAR-10 folder (`--data`). */
  dataDir?: string;
  /** Backend request (`--backend`). */
  backend?: PipelineConfig['backend'];
  /** Third-party plugin packages (`--plugin`). */
  plugins?: string[];
  /** The cell's local working folder. */
  outDir: string;
}

/**
 * The preset's config for a grid: the recipe every cell of the grid follows.
 * @param spec - the grid
 * @param model - model plugin id (the presets size `resnet18` and `vit`; another model gets `{}`)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for an unknown preset
 */
export function gridPresetConfig(spec: Pick<GridSpec, 'preset'>, model: string): PipelineConfig {
  if (!(GRID_PRESETS as readonly string[]).includes(spec.preset)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `preset: must be one of ${GRID_PRESETS.join(', ')}, got "${spec.preset}".`, {
      details: { key: 'preset' },
    });
  }
  const known = model === 'resnet18' || model === 'vit';
  const config = presetConfig(spec.preset as PresetName, known ? model : 'resnet18');
  return known ? config : { ...config, arch: model, model: {} };
}

/**
 * The grid a preset defines: what `unlearn grid --preset P` runs when the spec leaves an axis
 * out. `quick` is sized for a 2-core CPU (3 seeds, class-wise and random forgetting, dense and
 * 95%-sparse); `standard` and `paper` are the reference's setting (class 0 or 4,500 random
 * images); `ci` is the smallest grid with every axis.
 * @param preset - `ci`, `quick`, `standard` or `paper`
 * @returns the axes the preset fills in (a spec file or flags override each)
 */
export function presetGrid(preset: string): { seeds: number[]; scenarios: Scenario[]; sparsities: number[] } {
  gridPresetConfig({ preset }, 'resnet18');
  if (preset === 'paper' || preset === 'standard')
    return { seeds: [1, 2, 3], scenarios: [{ class: 0 }, { random: 4500 }], sparsities: [0, 0.95] };
  if (preset === 'quick') return { seeds: [1, 2, 3], scenarios: [{ class: 0 }, { random: 270 }], sparsities: [0, 0.95] };
  return { seeds: [1, 2], scenarios: [{ class: 0 }], sparsities: [0, 0.95] };
}

/** The preset's methods as grid methods (the default `methods` of a grid). */
export function presetGridMethods(preset: string): GridMethod[] {
  return gridPresetConfig({ preset }, 'resnet18').methods.map((m) => ({
    method: m.method,
    ...(m.options ? { options: m.options } : {}),
    ...(m.lora ? { lora: true } : {}),
  }));
}

function scenarioData(s: Scenario): { classToForget: number; numToForget?: number } {
  if ('random' in s) return { classToForget: -1, numToForget: s.random };
  return s.count === undefined ? { classToForget: s.class } : { classToForget: s.class, numToForget: s.count };
}

/**
 * The pipeline config one cell runs with: the grid's preset, the cell's model and seed, its
 * scenario's forget set (rows), its sparsity as the pruner's rate (prune cells), and the grid's
 * data limits.
 *
 * @param spec - the grid
 * @param cell - the cell
 * @param env - the worker's data folder, backend, plugins and working folder
 * @returns the config
 */
export function cellPipelineConfig(spec: GridSpec, cell: Cell, env: CellEnvironment): PipelineConfig {
  const preset = gridPresetConfig(spec, cell.model);
  // Dense and prune cells train on the train split, which depends only on the seed and the data
  // limits (makeSplits), not on what a row later forgets.
  const forget =
    cell.kind === 'row' ? scenarioData(cell.scenario) : { classToForget: preset.data.classToForget, numToForget: preset.data.numToForget };
  const method: MethodSpec[] =
    cell.kind === 'row' && cell.method !== 'original'
      ? [{ method: cell.method, ...(cell.options ? { options: cell.options } : {}), ...(cell.lora ? { lora: true } : {}) }]
      : [];
  return {
    ...preset,
    seed: cell.seed,
    outDir: env.outDir,
    backend: env.backend ?? 'auto',
    // One core per cell: cells run side by side, one per core.
    wasmThreads: 1,
    jobs: 1,
    quiet: true,
    plugins: env.plugins ?? [],
    data: {
      ...preset.data,
      ...forget,
      dir: env.dataDir,
      trainLimit: spec.data?.trainLimit ?? preset.data.trainLimit,
      testLimit: spec.data?.testLimit ?? preset.data.testLimit,
    },
    prune:
      preset.prune && cell.kind === 'prune' ? { ...preset.prune, options: { ...preset.prune.options, rate: cell.sparsity } } : preset.prune,
    methods: method,
  };
}
