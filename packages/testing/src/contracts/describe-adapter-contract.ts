import * as tf from '@tensorflow/tfjs-core';
import { type AttachedAdapter, type DependencyContainer, type Model, Rng, attachAdapter } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '../expect-no-tensor-leak.js';
import { expectMaskedWeightsZero, modelState, setRandomMasks } from '../model-checks.js';
import {
  type ContractModel,
  type PluginContractConfig,
  buildContractModel,
  compareTwoRuns,
  describeDescriptorAndCreation,
  describeRejectsInvalidOptions,
  freshContainer,
  logitsOf,
  probeImages,
  useContractBackend,
} from './contract-setup.js';

/** Configuration of {@link describeAdapterContract}. */
export interface AdapterContractConfig extends PluginContractConfig<'adapter'> {
  /** The model to adapt. @defaultValue the `tiny` model */
  model?: ContractModel;
  /** Standard deviation of the random values written into the adapter's parameters. @defaultValue 0.05 */
  perturbation?: number;
}

/**
 * Set every adapter parameter to random values, standing in for training: a freshly attached
 * adapter (e.g. LoRA with B = 0) is often the identity, which would make merge checks vacuous.
 */
function perturb(model: Model, attached: AttachedAdapter, rng: Rng, std: number): void {
  for (const name of attached.parameterNames) {
    const v = model.extraParams.get(name);
    if (!v) continue;
    const t = tf.tensor(rng.normalArray(v.size, 0, std), v.shape);
    v.assign(t);
    t.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Declare the public contract of an adapter plugin (e.g. LoRA) as vitest tests.
 *
 * @param config - the plugin, the register functions it needs, valid options and a list of
 *   invalid option sets
 * @remarks Checks, each on fresh containers and the tiny model:
 * 1. the descriptor has kind `adapter`, a kebab-case name and the current `API_VERSION`;
 * 2. it registers and creates on a fresh container, and another container does not know it;
 * 3. attaching adds trainable parameters (`parameterNames` are in `model.extraParams`) and
 *    `trainableCount` equals the size of `model.trainableVariables()`;
 * 4. deterministic: the same seed gives the same adapter initialisation and merged weights;
 * 5. every invalid option set fails with `UNLEARN_INVALID_OPTIONS` (through `attachAdapter`),
 *    attaching nothing;
 * 6. merge keeps the adapted model's outputs, removes the adapter parameters and unfreezes;
 *    detach restores the base weights, outputs and trainable state bit for bit;
 * 7. no tensor leaks (attach → merge, attach → detach, model disposed);
 * 8. masks stay zero: with a random ~50% mask, every masked weight is exactly 0 after merge.
 * The adapter's parameters are set to random values between attach and merge/detach (as if
 * trained), so these checks are not vacuous for adapters that start as the identity.
 * @example
 * ```ts
 * describeAdapterContract({ plugin: loraPlugin, use: [registerLora], validOptions: { rank: 2 }, invalidOptions: [['rank 0', { rank: 0 }]] });
 * ```
 */
export function describeAdapterContract(config: AdapterContractConfig): void {
  const { plugin } = config;
  const seed = config.seed ?? 0;
  const std = config.perturbation ?? 0.05;

  function setup(withMasks: boolean): { container: DependencyContainer; model: Model } {
    const container = freshContainer(config);
    const model = buildContractModel(container, config.model);
    if (withMasks) setRandomMasks(model, new Rng(seed).fork('contract-masks'));
    return { container, model };
  }

  function attachPerturbMerge(withMasks: boolean) {
    const { container, model } = setup(withMasks);
    try {
      const attached = attachAdapter(container, plugin.name, model, config.validOptions);
      const initial = modelState(model).extra;
      perturb(model, attached, new Rng(seed).fork('contract-perturb'), std);
      attached.merge();
      return { model, initial };
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  describe(`adapter "${plugin.name}" contract`, () => {
    useContractBackend(config.backend);
    describeDescriptorAndCreation('adapter', config, (a) => expect(typeof a.attach).toBe('function'));

    it('adds trainable parameters and counts what trains', () => {
      const { container, model } = setup(false);
      try {
        const attached = attachAdapter(container, plugin.name, model, config.validOptions);
        expect(attached.parameterNames.length).toBeGreaterThan(0);
        for (const name of attached.parameterNames) expect(model.extraParams.has(name), `extra parameter "${name}"`).toBe(true);
        let trainable = 0;
        for (const v of model.trainableVariables().values()) trainable += v.size;
        expect(attached.trainableCount).toBe(trainable);
        attached.detach();
      } finally {
        model.dispose();
      }
    });

    it('is deterministic under a seed', async () => {
      await compareTwoRuns(
        () => attachPerturbMerge(false),
        (a, b) => {
          expect(a.initial).toEqual(b.initial);
          expect(modelState(a.model)).toEqual(modelState(b.model));
        },
      );
    });

    describeRejectsInvalidOptions(
      config,
      (container, model, options) => attachAdapter(container, plugin.name, model, options),
      'attaching nothing',
      (model) => expect(model.extraParams.size).toBe(0),
    );

    it('merge keeps the outputs, removes the adapter parameters and unfreezes the model', () => {
      const { container, model } = setup(true);
      const x = probeImages(seed);
      try {
        const attached = attachAdapter(container, plugin.name, model, config.validOptions);
        perturb(model, attached, new Rng(seed).fork('contract-perturb'), std);
        const adapted = logitsOf(model, x);
        attached.merge();
        const merged = logitsOf(model, x);
        const scale = Math.max(1, ...adapted.map(Math.abs));
        expect(maxAbsDiff(adapted, merged), 'outputs changed by merge').toBeLessThanOrEqual(1e-4 * scale);
        for (const name of attached.parameterNames) expect(model.extraParams.has(name)).toBe(false);
        for (const name of model.params.keys()) expect(model.isFrozen(name), `"${name}" still frozen after merge`).toBe(false);
      } finally {
        x.dispose();
        model.dispose();
      }
    });

    it('detach restores the base weights and outputs', () => {
      const { container, model } = setup(true);
      const x = probeImages(seed);
      try {
        const before = modelState(model);
        const outputs = logitsOf(model, x);
        const attached = attachAdapter(container, plugin.name, model, config.validOptions);
        perturb(model, attached, new Rng(seed).fork('contract-perturb'), std);
        attached.detach();
        expect(modelState(model)).toEqual(before);
        expect(logitsOf(model, x)).toEqual(outputs);
        for (const name of model.params.keys()) expect(model.isFrozen(name), `"${name}" still frozen after detach`).toBe(false);
      } finally {
        x.dispose();
        model.dispose();
      }
    });

    it('leaks no tensors', async () => {
      await expectNoTensorLeak(() => {
        attachPerturbMerge(true).model.dispose();
        const { container, model } = setup(true);
        attachAdapter(container, plugin.name, model, config.validOptions).detach();
        model.dispose();
      });
    });

    it('keeps masked weights at exactly zero after merge', () => {
      const { model } = attachPerturbMerge(true);
      try {
        expect(expectMaskedWeightsZero(model)).toBeGreaterThan(0);
      } finally {
        model.dispose();
      }
    });
  });
}
