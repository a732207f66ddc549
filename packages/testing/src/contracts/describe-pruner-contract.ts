import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DataSplits, type Model, type PruneReport, Rng, runPruner } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '../expect-no-tensor-leak.js';
import { type TinySplitsOptions, createTinySplits } from '../fixtures/tiny-splits.js';
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

/** Configuration of {@link describePrunerContract}. */
export interface PrunerContractConfig extends PluginContractConfig<'pruner'> {
  /** The model to prune. @defaultValue the `tiny` model */
  model?: ContractModel;
  /** Sizes of the tiny splits given as `data`. @defaultValue 120 train images */
  data?: TinySplitsOptions;
  /** Give each run its own fresh `checkpointDir` (removed afterwards). @defaultValue false */
  checkpoints?: boolean;
}

/**
 * Assert that a pruning report's final sparsity counts the zeros of the model's masks.
 *
 * @param model - the pruned model
 * @param report - what the pruner returned
 * @throws the vitest assertion error on a mismatch
 */
export function expectSparsityMatchesMasks(model: Model, report: PruneReport): void {
  let total = 0;
  let pruned = 0;
  const perLayer = new Map<string, number>();
  for (const name of model.prunable) {
    const weight = model.params.get(name);
    if (!weight) continue;
    total += weight.size;
    const mask = model.masks.get(name);
    let zeros = 0;
    if (mask) for (const v of mask.dataSync()) if (v === 0) zeros++;
    perLayer.set(name, zeros);
    pruned += zeros;
  }
  expect(report.sparsity.total, 'sparsity.total must be the number of prunable weights').toBe(total);
  expect(report.sparsity.pruned, 'sparsity.pruned must count the zeros of the masks').toBe(pruned);
  expect(report.sparsity.global).toBeCloseTo(total > 0 ? pruned / total : 0, 9);
  for (const layer of report.sparsity.layers) {
    expect(perLayer.has(layer.name), `sparsity layer "${layer.name}" is not a prunable weight`).toBe(true);
    expect(layer.pruned, `sparsity of "${layer.name}"`).toBe(perLayer.get(layer.name));
    expect(layer.size).toBe(model.params.get(layer.name)?.size);
  }
}

/**
 * Declare the public contract of a pruner plugin as vitest tests.
 *
 * @param config - the plugin, the register functions it needs, small valid options (one
 *   round, one epoch) and a list of invalid option sets
 * @remarks Checks, each on fresh containers and the tiny fixtures:
 * 1. the descriptor has kind `pruner`, a kebab-case name and the current `API_VERSION`;
 * 2. it registers and creates on a fresh container, and another container does not know it;
 * 3. deterministic: two containers with the same seed give identical masks and weights, and
 *    the report's final sparsity counts exactly the zeros of the model's masks;
 * 4. every invalid option set fails with `UNLEARN_INVALID_OPTIONS` (through `runPruner`) and
 *    leaves the model unchanged;
 * 5. no tensor leaks;
 * 6. masks stay zero: starting from a random ~50% mask, every weight masked after pruning is
 *    exactly 0.
 * @example
 * ```ts
 * describePrunerContract({ plugin: ompPlugin, use: [registerPruning], validOptions: { sparsity: 0.5 }, invalidOptions: [['sparsity 2', { sparsity: 2 }]] });
 * ```
 */
export function describePrunerContract(config: PrunerContractConfig): void {
  const { plugin } = config;
  const seed = config.seed ?? 0;
  let splits: DataSplits | undefined;
  const data = (): DataSplits => (splits ??= createTinySplits({ seed, ...config.data }));

  async function runOnce(withMasks: boolean) {
    const container = freshContainer(config);
    const model = buildContractModel(container, config.model);
    const checkpointDir = config.checkpoints ? await mkdtemp(join(tmpdir(), 'unlearnjs-pruner-contract-')) : undefined;
    try {
      if (withMasks) setRandomMasks(model, new Rng(seed).fork('contract-masks'));
      const report = await runPruner(container, plugin.name, { model, data: data(), options: config.validOptions, checkpointDir });
      return { model, report };
    } catch (err) {
      model.dispose();
      throw err;
    } finally {
      if (checkpointDir) await rm(checkpointDir, { recursive: true, force: true });
    }
  }

  describe(`pruner "${plugin.name}" contract`, () => {
    useContractBackend(config.backend);
    describeDescriptorAndCreation('pruner', config, (p) => expect(typeof p.prune).toBe('function'));

    it('is deterministic under a seed and reports the sparsity of its masks', async () => {
      await compareTwoRuns(
        () => runOnce(false),
        (a, b) => {
          expect(typeof a.report.pruner).toBe('string');
          expect(Array.isArray(a.report.rounds)).toBe(true);
          expectSparsityMatchesMasks(a.model, a.report);
          expect(modelState(a.model)).toEqual(modelState(b.model));
        },
      );
    });

    describeRejectsInvalidOptions(config, (container, model, options) =>
      runPruner(container, plugin.name, { model, data: data(), options }),
    );

    it('leaks no tensors', async () => {
      await expectNoTensorLeak(async () => {
        const { model } = await runOnce(true);
        model.dispose();
      });
    });

    it('keeps masked weights at exactly zero', async () => {
      const { model, report } = await runOnce(true);
      try {
        expectMaskedWeightsZero(model);
        expectSparsityMatchesMasks(model, report);
      } finally {
        model.dispose();
      }
    });
  });
}
