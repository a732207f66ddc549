import { registerCoreModels, resnet18ModelPlugin, vitModelPlugin } from '@unlearnjs/core';
import { describeModelContract } from '@unlearnjs/testing';

// Core's own architectures run the public model suite here rather than in core's tests: core
// depending on this package, even for tests, would make a cycle between the two.
describeModelContract({
  plugin: resnet18ModelPlugin,
  use: [registerCoreModels],
  validOptions: { width: 4, numClasses: 2 },
  trainImages: 4,
  invalidOptions: [
    ['a width below 4', { width: 3 }],
    ['a fractional width', { width: 4.5 }],
    ['a single class', { numClasses: 1 }],
  ],
});

describeModelContract({
  plugin: vitModelPlugin,
  use: [registerCoreModels],
  validOptions: { dim: 8, depth: 1, heads: 2, mlpDim: 16, patchSize: 8, numClasses: 2 },
  invalidOptions: [
    ['a dim not divisible by heads', { dim: 10, heads: 3 }],
    ['a patch that does not divide 32', { patchSize: 5 }],
    ['a dropout of 1', { dropout: 1 }],
    ['zero blocks', { depth: 0 }],
  ],
});
