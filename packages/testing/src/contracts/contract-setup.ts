import * as tf from '@tensorflow/tfjs-core';
import {
  API_VERSION,
  type BackendExtension,
  type DependencyContainer,
  type Model,
  type Plugin,
  type PluginInstanceByKind,
  type PluginKind,
  type RegisterFunction,
  createContainer,
  createMemoryLogger,
  createModel,
  createPlugin,
  initBackend,
  listPlugins,
  parseOptions,
  registerPlugin,
  toTensor,
  fullSubset,
} from '@unlearnjs/core';
import { beforeAll, expect, it } from 'vitest';
import { expectUnlearnError } from '../expect-unlearn-error.js';
import { createSyntheticImageSet } from '../fixtures/synthetic-image-set.js';
import { registerTinyModel } from '../fixtures/tiny-model.js';
import { modelState } from '../model-checks.js';

/**
 * The backend a contract suite runs on: `cpu`, the stock `wasm`, or a backend extension (e.g.
 * `wasmTrainingBackend` of @unlearnjs/backend-wasm), whose backend runs with its kernels.
 */
export type ContractBackend = 'cpu' | 'wasm' | BackendExtension;

/** Plugin options as a contract suite passes them (validated by the plugin's schema). */
export type ContractOptions = Record<string, unknown>;

/** The model a contract suite runs a plugin on. */
export interface ContractModel {
  /** Model plugin id. @defaultValue 'tiny' (always registered by the suites) */
  name: string;
  /** Its options. @defaultValue {} */
  options?: ContractOptions;
}

/** What every contract suite takes. */
export interface PluginContractConfig<K extends PluginKind> {
  /** The plugin descriptor under test. */
  plugin: Plugin<K>;
  /**
   * Register functions the plugin needs on each fresh container (its own `registerX` may be
   * among them: registering the same descriptor twice is a no-op).
   */
  use?: readonly RegisterFunction[];
  /** Small options that make the plugin run in about a second on the tiny fixtures. */
  validOptions: ContractOptions;
  /** `[description, options]` pairs the plugin's schema must reject. */
  invalidOptions: ReadonlyArray<readonly [string, ContractOptions]>;
  /** @defaultValue 'cpu' */
  backend?: ContractBackend;
  /** Seed of the containers and fixtures. @defaultValue 0 */
  seed?: number;
}

/** Plugin ids: kebab-case, as `registerPlugin` requires. @internal */
const PLUGIN_NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Select the backend before the suite's tests (each test file runs in its own worker). @internal */
export function useContractBackend(backend: ContractBackend = 'cpu'): void {
  beforeAll(async () => {
    if (backend === 'cpu') {
      await import('@tensorflow/tfjs-backend-cpu');
      await tf.setBackend('cpu');
    } else if (backend === 'wasm') {
      await initBackend('wasm', { logger: createMemoryLogger() });
    } else {
      await initBackend(backend.backend, { logger: createMemoryLogger(), extensions: [backend] });
    }
    await tf.ready();
  });
}

/**
 * A fresh run container with the tiny model, the `use` functions and the plugin registered.
 * @internal
 */
export function freshContainer<K extends PluginKind>(
  config: PluginContractConfig<K>,
  options: { seed?: number; tiny?: boolean } = {},
): DependencyContainer {
  const use = [...(options.tiny === false ? [] : [registerTinyModel]), ...(config.use ?? [])];
  const container = createContainer({ seed: options.seed ?? config.seed ?? 0, use, logger: createMemoryLogger() });
  registerPlugin(container, config.plugin);
  return container;
}

/** Build the suite's model on a container. The caller disposes it. @internal */
export function buildContractModel(container: DependencyContainer, model: ContractModel | undefined): Model {
  return createModel(container, model?.name ?? 'tiny', model?.options ?? {});
}

/** A few synthetic images as a float tensor `[n, 32, 32, 3]`; the caller disposes it. @internal */
export function probeImages(seed: number, n = 4): tf.Tensor4D {
  const { x, y } = toTensor(fullSubset(createSyntheticImageSet({ n, seed: seed + 1 })));
  y.dispose();
  return x;
}

/** Logits of `x` in eval mode, as plain numbers. @internal */
export function logitsOf(model: Model, x: tf.Tensor4D): Float32Array {
  const logits = tf.tidy(() => model.forward(x));
  try {
    return Float32Array.from(logits.dataSync() as ArrayLike<number>);
  } finally {
    logits.dispose();
  }
}

/** The first tests of every suite: the descriptor, and creation on a fresh container. @internal */
export function describeDescriptorAndCreation<K extends PluginKind>(
  kind: K,
  config: PluginContractConfig<K>,
  checkInstance: (instance: PluginInstanceByKind[K]) => void,
): void {
  const { plugin } = config;
  const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
  it(`is ${article} ${kind} descriptor with a kebab-case name and the current apiVersion`, () => {
    expect(plugin.kind).toBe(kind);
    expect(plugin.name).toMatch(PLUGIN_NAME_PATTERN);
    expect(plugin.apiVersion).toBe(API_VERSION);
    expect(typeof plugin.create).toBe('function');
  });

  it('registers and creates on a fresh container, and is unknown on another one', async () => {
    const container = freshContainer(config, { tiny: kind !== 'model' });
    expect(listPlugins(container, kind)).toContain(plugin);
    registerPlugin(container, plugin); // the same descriptor again: a no-op
    const instance = createPlugin(container, kind, plugin.name);
    expect(instance.name).toBe(plugin.name);
    expect(instance.optionsSchema).toBeDefined();
    parseOptions(instance.optionsSchema, config.validOptions, `${kind} "${plugin.name}"`);
    checkInstance(instance);
    await expectUnlearnError(() => createPlugin(createContainer({ seed: 0 }), kind, plugin.name), 'UNLEARN_UNKNOWN_PLUGIN');
  });
}

/**
 * One test per invalid option set: running the plugin with it fails with
 * `UNLEARN_INVALID_OPTIONS` and leaves the model's state (weights, buffers, masks) unchanged.
 * @param config - the suite's config (its `invalidOptions`, `model`, seed and `use`)
 * @param run - runs the plugin on a fresh container and model, without masks
 * @param outcome - the end of each test's title @defaultValue 'leaving the model unchanged'
 * @param checkAfter - further checks on the model after the failure
 * @internal
 */
export function describeRejectsInvalidOptions<K extends PluginKind>(
  config: PluginContractConfig<K> & { model?: ContractModel },
  run: (container: DependencyContainer, model: Model, options: ContractOptions) => unknown,
  outcome = 'leaving the model unchanged',
  checkAfter?: (model: Model) => void,
): void {
  for (const [description, options] of config.invalidOptions) {
    it(`rejects ${description} with UNLEARN_INVALID_OPTIONS, ${outcome}`, async () => {
      const container = freshContainer(config);
      const model = buildContractModel(container, config.model);
      try {
        const before = modelState(model);
        await expectUnlearnError(() => run(container, model, options), 'UNLEARN_INVALID_OPTIONS');
        expect(modelState(model)).toEqual(before);
        checkAfter?.(model);
      } finally {
        model.dispose();
      }
    });
  }
}

/**
 * Run a plugin twice and compare the outcomes, disposing both models whatever happens.
 * @param runOnce - one run; returns its model (the caller of `runOnce` owns it) and outcome
 * @param compare - the assertions on the two runs
 * @internal
 */
export async function compareTwoRuns<R extends { model: Model }>(
  runOnce: () => R | Promise<R>,
  compare: (a: R, b: R) => void,
): Promise<void> {
  const a = await runOnce();
  try {
    const b = await runOnce();
    try {
      compare(a, b);
    } finally {
      b.model.dispose();
    }
  } finally {
    a.model.dispose();
  }
}
