// docs/guides/code/my-unlearner/src/index.ts
import { API_VERSION, type DependencyContainer, type OptionsByNameOf, definePlugin, registerPlugin } from '@unlearnjs/core';
import { NegGradPlusUnlearner } from './neg-grad-plus-unlearner.js';

export { NegGradPlusUnlearner } from './neg-grad-plus-unlearner.js';
export { type NegGradPlusOptions, negGradPlusOptionsSchema } from './options.js';

/** The `neg-grad-plus` plugin: a plain value, so importing this package registers nothing. */
export const negGradPlusPlugin = definePlugin({
  kind: 'unlearner',
  name: 'neg-grad-plus',
  apiVersion: API_VERSION,
  description: 'NegGrad+: fine-tune on D_r and ascend the loss on D_f in one loss, CE(D_r) − β·CE(D_f).',
  create: () => new NegGradPlusUnlearner(), // its `name` must be 'neg-grad-plus', or this does not compile
});

// Types `runUnlearner(container, 'neg-grad-plus', { options })`: the id and the options type
// come from the descriptor, so the id is written once.
declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof negGradPlusPlugin> {}
}

/** Register `neg-grad-plus` on a run container: `createContainer({ use: [registerNegGrad] })`. */
export function registerNegGrad(container: DependencyContainer): void {
  registerPlugin(container, negGradPlusPlugin);
}
