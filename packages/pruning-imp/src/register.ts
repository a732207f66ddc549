import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { ImpPruner } from './imp-pruner.js';
import { OmpPruner } from './omp-pruner.js';
import { RandomPruner } from './random-pruner.js';
import { SynflowPruner } from './synflow-pruner.js';

/** The `omp` pruner plugin descriptor. */
export const ompPlugin = definePlugin({
  kind: 'pruner',
  name: 'omp',
  apiVersion: API_VERSION,
  description: 'One-shot global magnitude pruning: train dense, prune to the target rate, rewind, retrain.',
  create: () => new OmpPruner(),
});

/** The `random` pruner plugin descriptor. */
export const randomPlugin = definePlugin({
  kind: 'pruner',
  name: 'random',
  apiVersion: API_VERSION,
  description: 'Random global unstructured pruning at a rate (seeded, data-free).',
  create: () => new RandomPruner(),
});

/** The `imp` pruner plugin descriptor. */
export const impPlugin = definePlugin({
  kind: 'pruner',
  name: 'imp',
  apiVersion: API_VERSION,
  description: 'Iterative magnitude pruning with rewinding (lottery ticket, rewind_lt): prune rate of the remaining weights per round.',
  create: () => new ImpPruner(),
});

/** The `synflow` pruner plugin descriptor. */
export const synflowPlugin = definePlugin({
  kind: 'pruner',
  name: 'synflow',
  apiVersion: API_VERSION,
  description: 'SynFlow (Tanaka et al. 2020): data-free iterative synaptic-flow pruning.',
  create: () => new SynflowPruner(),
});

declare module '@unlearnjs/core' {
  interface PrunerOptionsByName extends OptionsByNameOf<typeof ompPlugin | typeof randomPlugin | typeof impPlugin | typeof synflowPlugin> {}
}

/**
 * Register the pruners of this package on a run container: `omp` (one-shot magnitude), `imp`
 * (iterative magnitude with rewinding), `random` and `synflow` (data-free masks).
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another pruner already uses one of the names
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerPruningImp] });
 * const model = createModel(container, 'resnet18', { width: 16 });
 * const report = await runPruner(container, 'imp', {
 *   model, data: splits, checkpointDir: 'runs/imp',
 *   options: { rate: 0.2, pruningTimes: 5, rewindEpoch: 8, epochs: 182 },
 * });
 * ```
 */
export function registerPruningImp(container: DependencyContainer): void {
  registerPlugin(container, ompPlugin);
  registerPlugin(container, impPlugin);
  registerPlugin(container, randomPlugin);
  registerPlugin(container, synflowPlugin);
}
