/**
 * Evaluation of machine unlearning for unlearnjs, as in "Model Sparsity Can Simplify Machine
 * Unlearning" (Jia, Liu et al., NeurIPS 2023): the `accuracy` evaluator (UA, RA, TA), the
 * `svc-mia` evaluator (SVM membership-inference attack: MIA-efficacy, MIA-privacy), a
 * schema-versioned results file, gap to retrain, and Markdown/SVG/HTML reports.
 *
 * @remarks Importing this module registers nothing: call {@link registerEvalMia} on a run
 * container (`createContainer({ use: [registerEvalMia] })`).
 * @packageDocumentation
 */
export { accuracyPlugin, registerEvalMia, svcMiaPlugin } from './register.js';
export { AccuracyEvaluator, accuracyOptionsSchema, type AccuracyOptions, withPredictionCache } from './accuracy-evaluator.js';
export {
  SVM_CLASSIFIER_FACTORY,
  SvcMiaEvaluator,
  svcMiaOptionsSchema,
  type SvcMiaOptions,
  type SvmClassifierFactory,
} from './svc-mia-evaluator.js';
export { MIA_FEATURES, type MiaFeature, type FeatureMatrix, entropy, modifiedEntropy, miaFeatureMatrix } from './mia-features.js';
export { type SvmClassifier, type SvmClassifierOptions, createSvmClassifier } from './svm-classifier.js';
export {
  RESULTS_SCHEMA_VERSION,
  resultsSchema,
  resultRowSchema,
  resultMetricsSchema,
  type Results,
  type ResultRow,
  type RowSparsity,
  validateResults,
  readResults,
  resultRow,
} from './results-schema.js';
export { type ReferenceTestSet, referenceTestSet } from './reference-test-set.js';
export { CHART_PALETTE, escapeXml, niceScale, reportStyle } from './report-kit.js';
export { GAP_METRICS, type GapMetric, type GapRow, gapToRetrain } from './gap-to-retrain.js';
export { REPORT_METRICS, type ReportMetric } from './report-layout.js';
export { renderMarkdownTable, renderGapMarkdownTable, renderMarkdownReport } from './render-markdown-table.js';
export { renderSvgChart } from './render-svg-chart.js';
export { renderHtmlReport } from './render-html-report.js';
export { writeReport, type WrittenReport } from './write-report.js';
