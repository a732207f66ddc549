import { type DependencyContainer, registerPlugin } from '@unlearnjs/core';
import { type AccuracyOptions, accuracyPlugin } from './accuracy-evaluator.js';
import { type SvcMiaOptions, svcMiaPlugin } from './svc-mia-evaluator.js';

declare module '@unlearnjs/core' {
  interface EvaluatorOptionsByName {
    accuracy: AccuracyOptions;
    'svc-mia': SvcMiaOptions;
  }
}

/**
 * Register the evaluators of this package on a run container: `accuracy` (UA, RA, TA) and
 * `svc-mia` (MIA-efficacy, MIA-privacy).
 *
 * @param container - the run's container (from `createContainer`)
 * @throws UnlearnError `UNLEARN_DUPLICATE_PLUGIN` when another evaluator already uses one of the names
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerEvalMia] });
 * const { metrics } = await runEvaluator(container, 'svc-mia', { model, data, options: { features: ['confidence'] } });
 * ```
 */
export function registerEvalMia(container: DependencyContainer): void {
  registerPlugin(container, accuracyPlugin);
  registerPlugin(container, svcMiaPlugin);
}
