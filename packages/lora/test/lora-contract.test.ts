import { registerCoreModels } from '@unlearnjs/core';
import { describeAdapterContract } from '@unlearnjs/testing';
import { loraPlugin, registerLora } from '@unlearnjs/lora';

// The tiny model with a hidden layer: a conv kernel [3,3,3,4] and a dense kernel [256,8] are
// adapted (the classifier stays trainable); dropout 0 keeps the run cheap.
describeAdapterContract({
  plugin: loraPlugin,
  use: [registerLora],
  model: { name: 'tiny', options: { hidden: 8 } },
  validOptions: { rank: 2, dropout: 0 },
  invalidOptions: [
    ['rank 0', { rank: 0 }],
    ['a fractional rank', { rank: 1.5 }],
    ['a negative alpha', { alpha: -1 }],
    ['dropout 1', { dropout: 1 }],
    ['a target that matches nothing', { targets: ['nothing.*'] }],
    ['an invalid RegExp target', { targets: ['/[/'] }],
    ['an empty target list', { targets: [] }],
    ['an unknown init', { init: 'xavier' }],
    ['a misspelt option', { rnak: 2 }],
  ],
});

// The same contract on core's ResNet-18, where 'auto' computes unmasked targets factored
// (through ctx.linear) and masked ones in weight space (the masks-stay-zero check).
describeAdapterContract({
  plugin: loraPlugin,
  use: [registerLora, registerCoreModels],
  model: { name: 'resnet18', options: { width: 4 } },
  validOptions: { rank: 2, dropout: 0, targets: ['stage1.*.kernel', 'stage2.block0.*.kernel'] },
  invalidOptions: [['an unknown mode', { mode: 'fused' }]],
});
