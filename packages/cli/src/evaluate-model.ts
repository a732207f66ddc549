import { type DataSplits, type DependencyContainer, type Model, runEvaluator } from '@unlearnjs/core';
import { referenceTestSet, withPredictionCache } from '@unlearnjs/eval-mia';

/** Options of {@link evaluateModel}. */
export interface EvaluateModelOptions {
  /** Measure RA on at most this many retain images (seeded). @defaultValue all */
  maxRetain?: number;
  /** Images per forward pass. @defaultValue 256 */
  batchSize?: number;
  /** Run the SVM attack. @defaultValue true */
  mia?: boolean;
  /**
   * Every attack feature and the privacy attack as well (what `unlearn eval` prints), instead of
   * the confidence feature alone (the paper's MIA-efficacy, what the results table shows).
   * @defaultValue false
   */
  allMiaMetrics?: boolean;
}

/** The paper's metrics of one model, and which held-out set TA and the MIA used. */
export interface ModelEvaluation {
  /** `UA`, `RA`, `TA`, `MIA-efficacy` (0 when `mia` is off), and any further metric asked for. */
  metrics: { UA: number; RA: number; TA: number; 'MIA-efficacy': number } & Record<string, number>;
  /** e.g. "the test set without class 0 (900 images)". */
  heldOut: string;
}

/**
 * The one row evaluator of the CLI and the pipeline: UA, RA, TA (accuracy evaluator) and
 * MIA-efficacy (svc-mia) of a model on a run's splits.
 *
 * @param container - the run's container (with the eval-mia evaluators)
 * @param model - the model (not changed)
 * @param splits - the run's splits
 * @param options - see {@link EvaluateModelOptions}
 * @returns the metrics in percent
 */
export async function evaluateModel(
  container: DependencyContainer,
  model: Model,
  splits: DataSplits,
  options: EvaluateModelOptions = {},
): Promise<ModelEvaluation> {
  const data = {
    forget: splits.forget,
    retain: splits.retain,
    test: splits.test,
    testRetainClasses: splits.testRetainClasses,
    classToForget: splits.classToForget,
  };
  const batchSize = options.batchSize ?? 256;
  // Both evaluators predict the forget set, and svc-mia's shadow sets are retain and test
  // images the accuracy evaluator predicts too: each image runs through the model once.
  const metrics = await withPredictionCache(model, async () => {
    const acc = await runEvaluator(container, 'accuracy', { model, data, options: { maxRetain: options.maxRetain, batchSize } });
    const out: ModelEvaluation['metrics'] = { UA: acc.metrics.UA, RA: acc.metrics.RA, TA: acc.metrics.TA, 'MIA-efficacy': 0 };
    if (options.allMiaMetrics) Object.assign(out, acc.metrics);
    if (options.mia ?? true) {
      const mia = await runEvaluator(container, 'svc-mia', {
        model,
        data,
        options: options.allMiaMetrics ? { batchSize } : { features: ['confidence'], privacy: false, batchSize },
      });
      if (options.allMiaMetrics) Object.assign(out, mia.metrics);
      out['MIA-efficacy'] = mia.metrics['MIA-efficacy'];
    }
    return out;
  });
  return { metrics, heldOut: referenceTestSet(data).description };
}
