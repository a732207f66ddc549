// A plugin as a third party writes it: outside the first-party packages, on the public API of
// @unlearnjs/core only, with its own zod schema and register function, run through
// runUnlearner exactly like first-party unlearners, and passing the public contract suite.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  API_VERSION,
  type DependencyContainer,
  type OptionsByNameOf,
  type PluginOptions,
  Rng,
  type UnlearnerOptionsByName,
  type Unlearner,
  createContainer,
  createMemoryLogger,
  createModel,
  definePlugin,
  registerPlugin,
  runUnlearner,
} from '@unlearnjs/core';
import {
  createTinySplits,
  describeUnlearnerContract,
  expectUnlearnError,
  modelState,
  registerTinyModel,
  setRandomMasks,
} from '@unlearnjs/testing';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

// ---- the third-party package ---------------------------------------------------------------

/** Options of the "shrink" unlearner. */
const shrinkOptionsSchema = z.strictObject({
  /** Each unmasked weight is multiplied by (1 - rate). */
  rate: z.number().min(0).lt(1).default(0.1),
  /** Shrink only the prunable weights (kernels), or every parameter. */
  only: z.enum(['prunable', 'all']).default('all'),
});
type ShrinkOptions = z.output<typeof shrinkOptionsSchema>;

class ShrinkUnlearner implements Unlearner<ShrinkOptions> {
  readonly name = 'shrink';
  readonly optionsSchema = shrinkOptionsSchema;

  async unlearn({ model, options }: Parameters<Unlearner<ShrinkOptions>['unlearn']>[0]) {
    const names = options.only === 'all' ? [...model.params.keys()] : [...model.prunable];
    for (const name of names) {
      if (model.isFrozen(name)) continue;
      const w = model.params.get(name) as tf.Variable;
      tf.tidy(() => w.assign(tf.mul(w, 1 - options.rate)));
    }
    // Masked weights are already 0 and 0·(1 - rate) = 0; re-applying the masks is cheap insurance.
    model.applyMasks();
    return { method: 'shrink', seconds: 0, epochs: [], extra: { rate: options.rate, shrunk: names.length } };
  }
}

// The id is written in the descriptor; the compiler checks the instance's name against it and
// the augmentation takes the id and the options from the descriptor's type.
const shrinkPlugin = definePlugin({
  kind: 'unlearner',
  name: 'shrink',
  apiVersion: API_VERSION,
  description: 'Multiplies every unmasked weight by (1 - rate).',
  create: () => new ShrinkUnlearner(),
});

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName extends OptionsByNameOf<typeof shrinkPlugin> {}
}

function registerShrink(container: DependencyContainer): void {
  registerPlugin(container, shrinkPlugin);
}

// ---- its tests -----------------------------------------------------------------------------

describeUnlearnerContract({
  plugin: shrinkPlugin,
  use: [registerShrink],
  validOptions: { rate: 0.25 },
  invalidOptions: [
    ['a rate of 1', { rate: 1 }],
    ['a negative rate', { rate: -0.1 }],
    ['a misspelt field', { rat: 0.1 }],
    ['an unknown `only`', { only: 'biases' }],
  ],
});

describe('shrink through runUnlearner', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const setup = () => {
    const container = createContainer({ seed: 4, use: [registerTinyModel, registerShrink], logger: createMemoryLogger() });
    const model = createModel(container, 'tiny', {});
    const s = createTinySplits({ seed: 4, n: 40 });
    const data = { forget: s.forget, retain: s.retain, validation: s.validation, classToForget: s.classToForget };
    return { container, model, data };
  };

  it('multiplies every unmasked weight by exactly (1 - rate), keeping masked ones at 0', async () => {
    const { container, model, data } = setup();
    try {
      setRandomMasks(model, new Rng(1));
      const before = modelState(model).params;
      const report = await runUnlearner(container, 'shrink', { model, data, options: { rate: 0.25 } });
      expect(report.method).toBe('shrink');
      expect(report.extra).toEqual({ rate: 0.25, shrunk: model.params.size });
      const after = modelState(model).params;
      for (const [name, w] of Object.entries(before)) {
        // float32 product, correctly rounded: the same as rounding the exact product.
        expect(after[name]).toEqual(w.map((v) => Math.fround(v * 0.75)));
      }
    } finally {
      model.dispose();
    }
  });

  it('shrinks only the kernels with only: prunable', async () => {
    const { container, model, data } = setup();
    try {
      const before = modelState(model).params;
      await runUnlearner(container, 'shrink', { model, data, options: { rate: 0.5, only: 'prunable' } });
      const after = modelState(model).params;
      expect(after['conv.bias']).toEqual(before['conv.bias']);
      expect(after['dense.bias']).toEqual(before['dense.bias']);
      expect(after['dense.kernel']).toEqual(before['dense.kernel'].map((v) => Math.fround(v * 0.5)));
    } finally {
      model.dispose();
    }
  });

  it('is typed by its descriptor: one id, options from its schema, and a name the compiler checks', () => {
    expectTypeOf(shrinkPlugin.name).toEqualTypeOf<'shrink'>();
    expectTypeOf<PluginOptions<typeof shrinkPlugin>>().toEqualTypeOf<ShrinkOptions>();
    expectTypeOf<UnlearnerOptionsByName['shrink']>().toEqualTypeOf<ShrinkOptions>();
    const misnamed = () =>
      // @ts-expect-error the instance calls itself 'shrink', not 'shrunk'
      definePlugin({ kind: 'unlearner', name: 'shrunk', apiVersion: API_VERSION, create: () => new ShrinkUnlearner() });
    const wrongKind = () =>
      // @ts-expect-error a ShrinkUnlearner is not a pruner
      definePlugin({ kind: 'pruner', name: 'shrink', apiVersion: API_VERSION, create: () => new ShrinkUnlearner() });
    expect([misnamed, wrongKind].length).toBe(2);
  });

  it('is typed by module augmentation and validated at the boundary', async () => {
    expectTypeOf<Parameters<typeof runUnlearner<'shrink'>>[2]['options']>().toEqualTypeOf<Partial<ShrinkOptions> | undefined>();
    const { container, model, data } = setup();
    try {
      const err = await expectUnlearnError(
        // @ts-expect-error rate must be a number
        () => runUnlearner(container, 'shrink', { model, data, options: { rate: 'half' } }),
        'UNLEARN_INVALID_OPTIONS',
      );
      expect(err.message).toContain('unlearner "shrink"');
      expect(err.message).toContain('rate');
      expect(err.message).toContain('(got "half")');
    } finally {
      model.dispose();
    }
  });
});
