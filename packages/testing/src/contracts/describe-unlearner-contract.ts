import { type DataSplits, Rng, type UnlearnData, type UnlearnReport, runUnlearner } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '../expect-no-tensor-leak.js';
import { expectUnlearnError } from '../expect-unlearn-error.js';
import { type TinySplitsOptions, createTinySplits, unlearnDataOf } from '../fixtures/tiny-splits.js';
import { expectMaskedWeightsZero, modelState, setRandomMasks } from '../model-checks.js';
import {
  type ContractModel,
  type PluginContractConfig,
  buildContractModel,
  compareTwoRuns,
  describeDescriptorAndCreation,
  describeRejectsInvalidOptions,
  freshContainer,
  useContractBackend,
} from './contract-setup.js';

/** Configuration of {@link describeUnlearnerContract}. */
export interface UnlearnerContractConfig extends PluginContractConfig<'unlearner'> {
  /** The model to unlearn on. @defaultValue the `tiny` model */
  model?: ContractModel;
  /** Sizes of the tiny splits. @defaultValue 120 train images, class 0 forgotten */
  data?: TinySplitsOptions;
  /**
   * The sets the method cannot work without (GA: `['forget']`, FT: `['retain']`). Each, left
   * empty, must fail with `UNLEARN_EMPTY_DATA` naming the method and the set, before the model
   * changes, instead of reporting success having done nothing. @defaultValue none checked
   */
  needs?: ReadonlyArray<'forget' | 'retain'>;
}

function expectWellFormedReport(report: UnlearnReport): void {
  expect(typeof report.method).toBe('string');
  expect(report.method.length).toBeGreaterThan(0);
  expect(Number.isFinite(report.seconds) && report.seconds >= 0).toBe(true);
  expect(Array.isArray(report.epochs)).toBe(true);
  for (const e of report.epochs) expect(Number.isFinite(e.loss), `epoch ${e.epoch} loss ${e.loss}`).toBe(true);
  expect(typeof report.extra).toBe('object');
}

/**
 * Declare the public contract of an unlearner plugin as vitest tests.
 *
 * @param config - the plugin, the register functions it needs, small valid options and a
 *   list of invalid option sets
 * @remarks Checks, each on fresh containers (never the global one) and the tiny fixtures:
 * 1. the descriptor has kind `unlearner`, a kebab-case name and the current `API_VERSION`;
 * 2. it registers and creates on a fresh container, its instance has the same name, its
 *    schema accepts `validOptions`, and another container does not know it;
 * 3. deterministic: two containers with the same seed give bit-identical weights after
 *    `runUnlearner`, and the report is well formed (finite seconds and losses);
 * 4. every invalid option set fails with `UNLEARN_INVALID_OPTIONS` and leaves the model unchanged;
 * 5. no tensor leaks (`tf.memory().numTensors` before and after, the model disposed);
 * 6. masks stay zero: with a random ~50% mask on the prunable weights, every masked weight is
 *    exactly 0 after unlearning, and the masks are unchanged;
 * 7. every set in `needs`, left empty, fails with `UNLEARN_EMPTY_DATA` (`details.method`,
 *    `details.set`) and leaves the model unchanged.
 * @example
 * ```ts
 * describeUnlearnerContract({
 *   plugin: gaPlugin,
 *   use: [registerGa],
 *   validOptions: { epochs: 1, lr: 1e-3, batchSize: 16 },
 *   invalidOptions: [['a negative lr', { lr: -1 }]],
 * });
 * ```
 */
export function describeUnlearnerContract(config: UnlearnerContractConfig): void {
  const { plugin } = config;
  const seed = config.seed ?? 0;
  let splits: DataSplits | undefined;
  const data = (): UnlearnData => unlearnDataOf((splits ??= createTinySplits({ seed, ...config.data })));

  async function runOnce(withMasks: boolean) {
    const container = freshContainer(config);
    const model = buildContractModel(container, config.model);
    try {
      if (withMasks) setRandomMasks(model, new Rng(seed).fork('contract-masks'));
      const report = await runUnlearner(container, plugin.name, { model, data: data(), options: config.validOptions });
      return { model, report };
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  describe(`unlearner "${plugin.name}" contract`, () => {
    useContractBackend(config.backend);
    describeDescriptorAndCreation('unlearner', config, (u) => expect(typeof u.unlearn).toBe('function'));

    it('is deterministic under a seed and returns a well-formed report', async () => {
      await compareTwoRuns(
        () => runOnce(false),
        (a, b) => {
          expectWellFormedReport(a.report);
          expect(modelState(a.model)).toEqual(modelState(b.model));
        },
      );
    });

    describeRejectsInvalidOptions(config, (container, model, options) =>
      runUnlearner(container, plugin.name, { model, data: data(), options }),
    );

    it('leaks no tensors', async () => {
      await expectNoTensorLeak(async () => {
        const { model } = await runOnce(true);
        model.dispose();
      });
    });

    for (const set of config.needs ?? []) {
      it(`refuses an empty ${set} set with UNLEARN_EMPTY_DATA before touching the model`, async () => {
        const container = freshContainer(config);
        const model = buildContractModel(container, config.model);
        try {
          const full = data();
          const empty: UnlearnData = { ...full, [set]: { source: full[set].source, indices: new Int32Array(0) } };
          const before = modelState(model);
          const err = await expectUnlearnError(
            () => runUnlearner(container, plugin.name, { model, data: empty, options: config.validOptions }),
            'UNLEARN_EMPTY_DATA',
          );
          expect(err.details).toMatchObject({ method: plugin.name, set });
          expect(modelState(model)).toEqual(before);
        } finally {
          model.dispose();
        }
      });
    }

    it('keeps masked weights at exactly zero', async () => {
      const { model } = await runOnce(true);
      try {
        const masksAfter = modelState(model).masks;
        const expected = new Rng(seed).fork('contract-masks');
        const check = buildContractModel(freshContainer(config), config.model);
        try {
          const pruned = setRandomMasks(check, expected);
          expect(expectMaskedWeightsZero(model)).toBe(pruned);
          expect(masksAfter, 'the unlearner changed the masks').toEqual(modelState(check).masks);
        } finally {
          check.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  });
}
