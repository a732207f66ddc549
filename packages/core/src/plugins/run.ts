import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError, isUnlearnError } from '../errors/unlearn-error.js';
import type { Model } from '../models/model.js';
import {
  type DependencyContainer,
  createAdapter,
  createEvaluator,
  createModelFactory,
  createPruner,
  createUnlearner,
  runServices,
} from '../registry/container.js';
import type {
  AdapterOptionsByName,
  EvaluatorOptionsByName,
  ModelOptionsByName,
  OptionsFor,
  PrunerOptionsByName,
  UnlearnerOptionsByName,
} from '../registry/options-by-name.js';
import { parseOptions } from '../registry/parse-options.js';
import type { AttachedAdapter, EvalData, EvalResult, PruneReport, UnlearnData, UnlearnReport } from './kinds.js';
import type { DataSplits } from '../data/index.js';

/**
 * Build a model from a registered architecture.
 * @param container - the run's container
 * @param arch - model plugin id, e.g. `resnet18`
 * @param options - architecture options (validated)
 * @returns a new model the caller disposes
 * @throws UnlearnError `UNLEARN_UNKNOWN_PLUGIN`, `UNLEARN_INVALID_OPTIONS`
 */
export function createModel<N extends string>(
  container: DependencyContainer,
  arch: N,
  options: OptionsFor<ModelOptionsByName, N> = {} as OptionsFor<ModelOptionsByName, N>,
): Model {
  const factory = createModelFactory(container, arch);
  const parsed = parseOptions(factory.optionsSchema, options, `model "${arch}"`);
  return factory.build(parsed, runServices(container, `init:${arch}`).rng);
}

/** Arguments of {@link runUnlearner}. */
export interface RunUnlearnerArgs<O> {
  model: Model;
  data: UnlearnData;
  options?: O;
  /**
   * Run the unlearner through an adapter (e.g. `{ name: 'lora', options: { rank: 8 } }`): the
   * adapter is attached before (base weights frozen, adapter weights trainable), and merged
   * into the base weights after, keeping the masks. Load the (pruned) checkpoint into `model`
   * *before* calling. Meaningful for iterative unlearners (ft, ga, rl, l1-sparse, retrain).
   */
  adapter?: { name: string; options?: Record<string, unknown> };
}

function allFinite(model: Model): boolean {
  return tf.tidy(() => {
    for (const v of [...model.params.values(), ...model.buffers.values()]) {
      if (!(tf.all(tf.isFinite(v)).dataSync()[0] === 1)) return false;
    }
    return true;
  });
}

/**
 * Run a registered unlearner: validate its options, give it the run's services, time it,
 * and refuse to leave a non-finite model behind.
 *
 * @param container - the run's container
 * @param name - unlearner id (`ft`, `ga`, `fisher`, ... or a third party's)
 * @param args - model (changed in place), data and options
 * @returns the unlearner's report, with `seconds` measured here
 * @throws UnlearnError `UNLEARN_UNKNOWN_PLUGIN`, `UNLEARN_INVALID_OPTIONS`; `UNLEARN_NON_FINITE_LOSS`
 *   when the result has NaN/Inf weights (the model is restored to its state before the call)
 */
export async function runUnlearner<N extends string>(
  container: DependencyContainer,
  name: N,
  args: RunUnlearnerArgs<OptionsFor<UnlearnerOptionsByName, N>>,
): Promise<UnlearnReport> {
  const unlearner = createUnlearner(container, name);
  const options = parseOptions(unlearner.optionsSchema, args.options ?? {}, `unlearner "${name}"`);
  const before = args.model.snapshot();
  const t0 = performance.now();
  let attached: AttachedAdapter | undefined;
  try {
    if (args.adapter) attached = attachAdapter(container, args.adapter.name, args.model, args.adapter.options ?? {});
    const trainable = attached?.trainableCount;
    const report = await unlearner.unlearn({
      model: args.model,
      data: args.data,
      options,
      services: runServices(container, `unlearn:${name}`),
    });
    if (attached) {
      attached.merge();
      attached = undefined;
      report.extra = { ...report.extra, adapter: args.adapter?.name, adapterTrainableParams: trainable };
    }
    if (!allFinite(args.model)) {
      args.model.load(before);
      throw new UnlearnError(
        'UNLEARN_NON_FINITE_LOSS',
        `Unlearner "${name}" produced NaN or infinite weights; the model was restored. Lower the learning rate or the number of epochs.`,
        { details: { method: name } },
      );
    }
    return { ...report, method: report.method || name, seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    attached?.detach();
    if (isUnlearnError(err, 'UNLEARN_NON_FINITE_LOSS')) args.model.load(before);
    throw err;
  } finally {
    for (const t of before.values()) t.dispose();
  }
}

/**
 * Run a registered pruner on a model in place.
 * @param container - the run's container
 * @param name - pruner id (`omp`, `imp`, ...)
 * @param args - model, data for training rounds, options, and the checkpoint folder
 * @returns the pruning report
 */
export async function runPruner<N extends string>(
  container: DependencyContainer,
  name: N,
  args: { model: Model; data?: DataSplits; options?: OptionsFor<PrunerOptionsByName, N>; checkpointDir?: string },
): Promise<PruneReport> {
  const pruner = createPruner(container, name);
  const options = parseOptions(pruner.optionsSchema, args.options ?? {}, `pruner "${name}"`);
  return pruner.prune({
    model: args.model,
    data: args.data,
    options,
    checkpointDir: args.checkpointDir,
    services: runServices(container, `prune:${name}`),
  });
}

/**
 * Run a registered evaluator.
 * @param container - the run's container
 * @param name - evaluator id (`accuracy`, `svc-mia`, ...)
 * @param args - model, data, options
 */
export async function runEvaluator<N extends string>(
  container: DependencyContainer,
  name: N,
  args: { model: Model; data: EvalData; options?: OptionsFor<EvaluatorOptionsByName, N> },
): Promise<EvalResult> {
  const evaluator = createEvaluator(container, name);
  const options = parseOptions(evaluator.optionsSchema, args.options ?? {}, `evaluator "${name}"`);
  return evaluator.evaluate({ model: args.model, data: args.data, options, services: runServices(container, `eval:${name}`) });
}

/**
 * Attach a registered adapter to a model.
 * @param container - the run's container
 * @param name - adapter id (`lora`)
 * @param model - the model (load its checkpoint and masks first)
 * @param options - adapter options
 */
export function attachAdapter<N extends string>(
  container: DependencyContainer,
  name: N,
  model: Model,
  options: OptionsFor<AdapterOptionsByName, N> = {} as OptionsFor<AdapterOptionsByName, N>,
): AttachedAdapter {
  const adapter = createAdapter(container, name);
  const parsed = parseOptions(adapter.optionsSchema, options, `adapter "${name}"`);
  return adapter.attach(model, parsed, runServices(container, `adapter:${name}`).rng);
}
