import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin, resolve } from '@unlearnjs/core';
import { AccuracyEvaluator } from './accuracy-evaluator.js';
import { SVM_CLASSIFIER_FACTORY, SvcMiaEvaluator } from './svc-mia-evaluator.js';
import { createSvmClassifier } from './svm-classifier.js';

/**
 * The `accuracy` evaluator plugin (UA, RA, TA). Register it with {@link registerEvalMia} or
 * `registerPlugin(container, accuracyPlugin)`.
 */
export const accuracyPlugin = definePlugin({
  kind: 'evaluator',
  name: 'accuracy',
  apiVersion: API_VERSION,
  description: 'UA = 100 − accuracy on the forget set, RA on the retain set, TA on the test set (no augmentation).',
  create: () => new AccuracyEvaluator(),
});

/**
 * The `svc-mia` evaluator plugin (MIA-efficacy, MIA-privacy) with the libsvm classifier.
 * Register it with {@link registerEvalMia} or `registerPlugin(container, svcMiaPlugin)`.
 */
export const svcMiaPlugin = definePlugin({
  kind: 'evaluator',
  name: 'svc-mia',
  apiVersion: API_VERSION,
  description: 'SVM membership-inference attack (RBF, C = 3): MIA-efficacy on the forget set and MIA-privacy.',
  create: (container) =>
    new SvcMiaEvaluator(
      container.isRegistered(SVM_CLASSIFIER_FACTORY, true) ? resolve(container, SVM_CLASSIFIER_FACTORY) : createSvmClassifier,
    ),
});

declare module '@unlearnjs/core' {
  interface EvaluatorOptionsByName extends OptionsByNameOf<typeof accuracyPlugin | typeof svcMiaPlugin> {}
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
