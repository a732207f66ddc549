import { describeEvaluatorContract } from '@unlearnjs/testing';
import { accuracyPlugin, registerEvalMia, svcMiaPlugin } from '@unlearnjs/eval-mia';

// First-party evaluators run the same public suite as a third party's.
describeEvaluatorContract({
  plugin: accuracyPlugin,
  use: [registerEvalMia],
  validOptions: { batchSize: 16, maxRetain: 50 },
  invalidOptions: [
    ['a zero batch size', { batchSize: 0 }],
    ['a fractional maxRetain', { maxRetain: 2.5 }],
    ['an unknown option', { batchsize: 16 }],
  ],
});

describeEvaluatorContract({
  plugin: svcMiaPlugin,
  use: [registerEvalMia],
  validOptions: { batchSize: 16, maxShadow: 20 },
  invalidOptions: [
    ['a non-positive C', { C: 0 }],
    ['an unknown feature', { features: ['loss'] }],
    ['no features', { features: [] }],
    ['an unknown option', { shadow: 20 }],
  ],
});
