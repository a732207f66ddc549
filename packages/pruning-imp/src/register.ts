import { type DependencyContainer, registerPlugin } from '@unlearnjs/core';
import { type ImpOptions, impPlugin } from './imp-pruner.js';
import { type OmpOptions, ompPlugin } from './omp-pruner.js';
import { type RandomPrunerOptions, randomPlugin } from './random-pruner.js';
import { type SynflowOptions, synflowPlugin } from './synflow-pruner.js';

declare module '@unlearnjs/core' {
  interface PrunerOptionsByName {
    omp: OmpOptions;
    imp: ImpOptions;
    random: RandomPrunerOptions;
    synflow: SynflowOptions;
  }
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
