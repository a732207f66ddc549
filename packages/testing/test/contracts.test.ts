import {
  describeAdapterContract,
  describeEvaluatorContract,
  describeModelContract,
  describePrunerContract,
  tinyModelPlugin,
} from '@unlearnjs/testing';
import { registerToys, toyAccuracyPlugin, toyDeltaPlugin, toyMagnitudePlugin } from './toy-plugins.js';

// The suites run on plugins written like a third party's, one per kind.
describeModelContract({
  plugin: tinyModelPlugin,
  validOptions: { channels: 2, hidden: 6 },
  invalidOptions: [
    ['zero channels', { channels: 0 }],
    ['a fractional hidden width', { hidden: 2.5 }],
    ['a single class', { numClasses: 1 }],
  ],
});

describePrunerContract({
  plugin: toyMagnitudePlugin,
  use: [registerToys],
  validOptions: { sparsity: 0.6 },
  invalidOptions: [
    ['a sparsity above 1', { sparsity: 1.5 }],
    ['a string sparsity', { sparsity: 'half' }],
  ],
});

describeAdapterContract({
  plugin: toyDeltaPlugin,
  use: [registerToys],
  validOptions: { scale: 2 },
  invalidOptions: [['a negative scale', { scale: -1 }]],
});

describeEvaluatorContract({
  plugin: toyAccuracyPlugin,
  use: [registerToys],
  validOptions: { batchSize: 16 },
  invalidOptions: [['a zero batch size', { batchSize: 0 }]],
});
