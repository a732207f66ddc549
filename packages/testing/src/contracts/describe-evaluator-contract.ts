import { type DataSplits, type EvalData, type EvalResult, Rng, runEvaluator } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '../expect-no-tensor-leak.js';
import { expectUnlearnError } from '../expect-unlearn-error.js';
import { type TinySplitsOptions, createTinySplits } from '../fixtures/tiny-splits.js';
import { modelState, setRandomMasks } from '../model-checks.js';
import {
  type ContractModel,
  type PluginContractConfig,
  buildContractModel,
  describeDescriptorAndCreation,
  freshContainer,
  useContractBackend,
} from './contract-setup.js';

/** Configuration of {@link describeEvaluatorContract}. */
export interface EvaluatorContractConfig extends PluginContractConfig<'evaluator'> {
  /** The model to evaluate. @defaultValue the `tiny` model */
  model?: ContractModel;
  /** Sizes of the tiny splits. @defaultValue 120 train and 40 test images, class 0 forgotten */
  data?: TinySplitsOptions;
}

/** Evaluation data of the tiny splits. @internal */
function evalDataOf(splits: DataSplits): EvalData {
  return {
    forget: splits.forget,
    retain: splits.retain,
    test: splits.test,
    testRetainClasses: splits.testRetainClasses,
    classToForget: splits.classToForget,
  };
}

function expectFiniteMetrics(result: EvalResult): void {
  expect(typeof result.evaluator).toBe('string');
  const entries = Object.entries(result.metrics);
  expect(entries.length, 'an evaluator returns at least one metric').toBeGreaterThan(0);
  for (const [name, value] of entries) {
    expect(typeof value === 'number' && Number.isFinite(value), `metric "${name}" = ${value}`).toBe(true);
  }
}

/**
 * Declare the public contract of an evaluator plugin as vitest tests.
 *
 * @param config - the plugin, the register functions it needs, small valid options and a
 *   list of invalid option sets
 * @remarks Checks, each on fresh containers and the tiny fixtures (a masked tiny model):
 * 1. the descriptor has kind `evaluator`, a kebab-case name and the current `API_VERSION`;
 * 2. it registers and creates on a fresh container, and another container does not know it;
 * 3. its metrics are finite numbers (at least one), and it does not change the model
 *    (weights, buffers, masks);
 * 4. deterministic: two containers with the same seed give identical metrics;
 * 5. every invalid option set fails with `UNLEARN_INVALID_OPTIONS` (through `runEvaluator`);
 * 6. no tensor leaks.
 * @example
 * ```ts
 * describeEvaluatorContract({ plugin: svcMiaPlugin, use: [registerEvalMia], validOptions: { shadowSize: 20 }, invalidOptions: [] });
 * ```
 */
export function describeEvaluatorContract(config: EvaluatorContractConfig): void {
  const { plugin } = config;
  const seed = config.seed ?? 0;
  let splits: DataSplits | undefined;
  const data = (): EvalData => evalDataOf((splits ??= createTinySplits({ seed, ...config.data })));

  async function runOnce() {
    const container = freshContainer(config);
    const model = buildContractModel(container, config.model);
    try {
      setRandomMasks(model, new Rng(seed).fork('contract-masks'));
      const before = modelState(model);
      const result = await runEvaluator(container, plugin.name, { model, data: data(), options: config.validOptions });
      return { model, before, result };
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  describe(`evaluator "${plugin.name}" contract`, () => {
    useContractBackend(config.backend);
    describeDescriptorAndCreation('evaluator', config, (e) => expect(typeof e.evaluate).toBe('function'));

    it('returns finite metrics and leaves the model unchanged', async () => {
      const { model, before, result } = await runOnce();
      try {
        expectFiniteMetrics(result);
        expect(modelState(model)).toEqual(before);
      } finally {
        model.dispose();
      }
    });

    it('is deterministic under a seed', async () => {
      const a = await runOnce();
      a.model.dispose();
      const b = await runOnce();
      b.model.dispose();
      expect(a.result.metrics).toEqual(b.result.metrics);
    });

    for (const [description, options] of config.invalidOptions) {
      it(`rejects ${description} with UNLEARN_INVALID_OPTIONS`, async () => {
        const container = freshContainer(config);
        const model = buildContractModel(container, config.model);
        try {
          await expectUnlearnError(() => runEvaluator(container, plugin.name, { model, data: data(), options }), 'UNLEARN_INVALID_OPTIONS');
        } finally {
          model.dispose();
        }
      });
    }

    it('leaks no tensors', async () => {
      await expectNoTensorLeak(async () => {
        (await runOnce()).model.dispose();
      });
    });
  });
}
