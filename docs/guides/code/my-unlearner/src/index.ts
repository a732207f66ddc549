// docs/guides/code/my-unlearner/src/index.ts
import { API_VERSION, type DependencyContainer, type Plugin, registerPlugin } from '@unlearnjs/core';
import { NegGradPlusUnlearner } from './neg-grad-plus-unlearner.js';

export { NegGradPlusUnlearner } from './neg-grad-plus-unlearner.js';
export { type NegGradPlusOptions, negGradPlusOptionsSchema } from './options.js';

/** The `neg-grad-plus` plugin: a plain value, so importing this package registers nothing. */
export const negGradPlusPlugin: Plugin<'unlearner'> = {
  kind: 'unlearner',
  name: 'neg-grad-plus',
  apiVersion: API_VERSION,
  description: 'NegGrad+: fine-tune on D_r and ascend the loss on D_f in one loss, CE(D_r) − β·CE(D_f).',
  create: () => new NegGradPlusUnlearner(),
};

/** Register `neg-grad-plus` on a run container: `createContainer({ use: [registerNegGrad] })`. */
export function registerNegGrad(container: DependencyContainer): void {
  registerPlugin(container, negGradPlusPlugin);
}
