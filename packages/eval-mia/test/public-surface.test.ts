import * as api from '@unlearnjs/eval-mia';
import { expect, it } from 'vitest';

// The package's runtime exports, sorted. Adding, renaming or removing one changes what users
// import: update this list in the same commit, with a changeset that says so.
it('exports exactly its public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'AccuracyEvaluator',
    'CHART_PALETTE',
    'GAP_METRICS',
    'MIA_FEATURES',
    'REPORT_METRICS',
    'RESULTS_SCHEMA_VERSION',
    'SVM_CLASSIFIER_FACTORY',
    'SvcMiaEvaluator',
    'accuracyOptionsSchema',
    'accuracyPlugin',
    'createSvmClassifier',
    'entropy',
    'escapeXml',
    'gapToRetrain',
    'miaFeatureMatrix',
    'modifiedEntropy',
    'niceScale',
    'readResults',
    'referenceTestSet',
    'registerEvalMia',
    'renderGapMarkdownTable',
    'renderHtmlReport',
    'renderMarkdownReport',
    'renderMarkdownTable',
    'renderSvgChart',
    'reportStyle',
    'resultMetricsSchema',
    'resultRow',
    'resultRowSchema',
    'resultsSchema',
    'svcMiaOptionsSchema',
    'svcMiaPlugin',
    'validateResults',
    'withPredictionCache',
    'writeReport',
  ]);
});
