import * as tf from '@tensorflow/tfjs-core';
import { type Model, Rng, createModel, fullSubset, runServices, train } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '../expect-no-tensor-leak.js';
import { expectUnlearnError } from '../expect-unlearn-error.js';
import { createSyntheticImageSet } from '../fixtures/synthetic-image-set.js';
import { expectMaskedWeightsZero, modelState, setRandomMasks } from '../model-checks.js';
import {
  type PluginContractConfig,
  describeDescriptorAndCreation,
  freshContainer,
  logitsOf,
  probeImages,
  useContractBackend,
} from './contract-setup.js';

/** Configuration of {@link describeModelContract}. `validOptions` should build a small model. */
export interface ModelContractConfig extends PluginContractConfig<'model'> {
  /** Images of the one training epoch run by the mask check. @defaultValue 8 */
  trainImages?: number;
}

/**
 * Declare the public contract of a model (architecture) plugin as vitest tests.
 *
 * @param config - the plugin, the register functions it needs, options of a small model and a
 *   list of invalid option sets
 * @remarks Checks, each on fresh containers (the `tiny` model is not registered here):
 * 1. the descriptor has kind `model`, a kebab-case name and the current `API_VERSION`;
 * 2. it registers and creates on a fresh container, and another container does not know it;
 * 3. the built model is consistent: its arch is the plugin name, prunable and classifier
 *    names are parameters, its config is JSON and rebuilds the same shapes, and eval-mode
 *    logits are finite, `[n, classes]` (classes = the classifier kernel's last dimension) and
 *    do not change the buffers;
 * 4. deterministic: the same seed gives the same weights and outputs, another seed other weights;
 * 5. every invalid option set fails with `UNLEARN_INVALID_OPTIONS` (through `createModel`);
 * 6. no tensor leaks (build, forward, one training epoch, dispose);
 * 7. masks stay zero through one epoch of core's `train`, which changes the unmasked weights.
 * @example
 * ```ts
 * describeModelContract({ plugin: resnet18ModelPlugin, validOptions: { width: 4 }, invalidOptions: [['width 0', { width: 0 }]] });
 * ```
 */
export function describeModelContract(config: ModelContractConfig): void {
  const { plugin } = config;
  const seed = config.seed ?? 0;
  const build = (s = seed) => {
    const container = freshContainer(config, { seed: s, tiny: false });
    return { container, model: createModel(container, plugin.name, config.validOptions) };
  };

  async function trainOneEpoch(model: Model, container: ReturnType<typeof build>['container']) {
    const images = createSyntheticImageSet({ n: config.trainImages ?? 8, seed, classes: 2 });
    await train(model, {
      data: fullSubset(images),
      epochs: 1,
      batchSize: 4,
      lr: 0.01,
      momentum: 0,
      weightDecay: 0,
      augment: false,
      evalEvery: 0,
      services: runServices(container, 'contract-train'),
    });
  }

  describe(`model "${plugin.name}" contract`, () => {
    useContractBackend(config.backend);
    describeDescriptorAndCreation('model', config, (f) => expect(typeof f.build).toBe('function'));

    it('builds a consistent model with finite [n, classes] logits', () => {
      const { container, model } = build();
      const x = probeImages(seed, 3);
      try {
        expect(model.arch).toBe(plugin.name);
        for (const name of model.prunable) expect(model.params.has(name), `prunable "${name}"`).toBe(true);
        expect(model.params.has(model.classifier.kernel)).toBe(true);
        if (model.classifier.bias) expect(model.params.has(model.classifier.bias)).toBe(true);
        expect(JSON.parse(JSON.stringify(model.config))).toEqual(model.config);
        const rebuilt = createModel(container, plugin.name, { ...model.config });
        try {
          const shapes = (m: Model) => Object.fromEntries([...m.params].map(([n, v]) => [n, v.shape]));
          expect(shapes(rebuilt)).toEqual(shapes(model));
        } finally {
          rebuilt.dispose();
        }
        const buffers = modelState(model).buffers;
        const logits = tf.tidy(() => model.forward(x));
        try {
          const kernel = model.params.get(model.classifier.kernel) as tf.Variable;
          expect(logits.shape).toEqual([3, kernel.shape[kernel.shape.length - 1]]);
          expect([...logits.dataSync()].every(Number.isFinite)).toBe(true);
        } finally {
          logits.dispose();
        }
        expect(modelState(model).buffers).toEqual(buffers);
      } finally {
        x.dispose();
        model.dispose();
      }
    });

    it('is deterministic under a seed', () => {
      const x = probeImages(seed, 2);
      const a = build().model;
      const b = build().model;
      const c = build(seed + 1).model;
      try {
        expect(modelState(a)).toEqual(modelState(b));
        expect(modelState(a).params).not.toEqual(modelState(c).params);
        expect(logitsOf(a, x)).toEqual(logitsOf(b, x));
        expect(logitsOf(a, x)).toEqual(logitsOf(a, x));
      } finally {
        for (const t of [x, a, b, c]) t.dispose();
      }
    });

    for (const [description, options] of config.invalidOptions) {
      it(`rejects ${description} with UNLEARN_INVALID_OPTIONS`, async () => {
        const container = freshContainer(config, { tiny: false });
        await expectUnlearnError(() => createModel(container, plugin.name, options).dispose(), 'UNLEARN_INVALID_OPTIONS');
      });
    }

    it('leaks no tensors', async () => {
      await expectNoTensorLeak(async () => {
        const { container, model } = build();
        const x = probeImages(seed, 2);
        try {
          logitsOf(model, x);
          setRandomMasks(model, new Rng(seed).fork('contract-masks'));
          await trainOneEpoch(model, container);
        } finally {
          x.dispose();
          model.dispose();
        }
      });
    });

    it('keeps masked weights at exactly zero through training', async () => {
      const { container, model } = build();
      try {
        setRandomMasks(model, new Rng(seed).fork('contract-masks'));
        const before = modelState(model).params;
        await trainOneEpoch(model, container);
        expect(expectMaskedWeightsZero(model)).toBeGreaterThan(0);
        expect(modelState(model).params, 'one epoch of training changed no weight').not.toEqual(before);
      } finally {
        model.dispose();
      }
    });
  });
}
