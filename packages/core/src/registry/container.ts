import 'reflect-metadata';
import { type DependencyContainer, container as globalContainer } from 'tsyringe';
import { UnlearnError } from '../errors/unlearn-error.js';
import { type Logger, createConsoleLogger } from '../progress/logger.js';
import { type ProgressReporter, silentProgress } from '../progress/progress.js';
import { Rng } from '../random/rng.js';
import type { RunServices } from '../plugins/services.js';
import type { Adapter, Evaluator, ModelFactory, Pruner, Unlearner } from '../plugins/kinds.js';
import type {
  AdapterOptionsByName,
  EvaluatorOptionsByName,
  ModelOptionsByName,
  PrunerOptionsByName,
  UnlearnerOptionsByName,
} from './options-by-name.js';
import { API_VERSION, type Plugin, type PluginInstanceByKind, type PluginKind } from './plugin.js';
import { type Token, defineToken } from './token.js';
import { ABORT_SIGNAL, LOGGER, PROGRESS, RNG, RUN_SEED } from './tokens.js';

export type { DependencyContainer } from 'tsyringe';

/** A function that registers a package's plugins, e.g. `registerGa`. */
export type RegisterFunction = (container: DependencyContainer) => void;

/** Options of {@link createContainer}. */
export interface CreateContainerOptions {
  /** The run's seed: every random choice derives from it. @defaultValue 0 */
  seed?: number;
  /** Register functions to apply, e.g. `[registerCoreModels, registerFt, registerGa]`. */
  use?: readonly RegisterFunction[];
  /** @defaultValue a console logger on stderr */
  logger?: Logger;
  /** @defaultValue silent */
  progress?: ProgressReporter;
  /** @defaultValue a signal that never aborts */
  signal?: AbortSignal;
}

interface Registry {
  readonly plugins: Map<string, Plugin>;
}
const REGISTRY = defineToken<Registry>('PLUGIN_REGISTRY');

/**
 * Resolve a typed token from a container.
 * @param container - the run's container
 * @param token - the token
 * @returns the registered value
 */
export function resolve<T>(container: DependencyContainer, token: Token<T>): T {
  return container.resolve<T>(token);
}

/**
 * Create the container of one run: a child of tsyringe's global container holding the seed,
 * logger, progress reporter, abort signal, a plugin registry of its own, and whatever the
 * `use` functions register.
 *
 * @param options - seed, register functions and services
 * @returns the container (one per run; tests make their own and never touch the global one)
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerFt] });
 * const ft = createPlugin(container, 'unlearner', 'ft');
 * ```
 */
export function createContainer(options: CreateContainerOptions = {}): DependencyContainer {
  const c = globalContainer.createChildContainer();
  const seed = options.seed ?? 0;
  c.register(RUN_SEED, { useValue: seed });
  c.register(RNG, { useValue: new Rng(seed) });
  c.register(LOGGER, { useValue: options.logger ?? createConsoleLogger() });
  c.register(PROGRESS, { useValue: options.progress ?? silentProgress });
  c.register(ABORT_SIGNAL, { useValue: options.signal ?? new AbortController().signal });
  c.register(REGISTRY, { useValue: { plugins: new Map() } });
  for (const use of options.use ?? []) use(c);
  return c;
}

function registryOf(container: DependencyContainer): Registry {
  if (container === globalContainer) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      'Plugins are registered on a run container, not on the global one: call createContainer() first.',
    );
  }
  if (!container.isRegistered(REGISTRY, false)) container.register(REGISTRY, { useValue: { plugins: new Map() } });
  return container.resolve(REGISTRY);
}

const key = (kind: PluginKind, name: string) => `${kind}:${name}`;
const pluginToken = (kind: PluginKind, name: string) => Symbol.for(`@unlearnjs/core:plugin/${kind}/${name}`);
const NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Register a plugin on a run container.
 *
 * @param container - from {@link createContainer}
 * @param plugin - the descriptor
 * @throws UnlearnError `UNLEARN_INCOMPATIBLE_API` when `apiVersion` differs from {@link API_VERSION};
 *   `UNLEARN_DUPLICATE_PLUGIN` when another plugin of the same kind has the name (re-registering the
 *   same object is a no-op); `UNLEARN_INVALID_OPTIONS` for a name that is not kebab-case
 */
export function registerPlugin<K extends PluginKind>(container: DependencyContainer, plugin: Plugin<K>): void {
  const reg = registryOf(container);
  if (!(['model', 'pruner', 'unlearner', 'adapter', 'evaluator'] as const).includes(plugin.kind)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Unknown plugin kind "${String(plugin.kind)}".`, {
      details: { kind: plugin.kind },
    });
  }
  if (typeof plugin.name !== 'string' || !NAME_PATTERN.test(plugin.name)) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Plugin name "${String(plugin.name)}" is not a kebab-case id (lowercase letters, digits and dashes).`,
      { details: { name: plugin.name } },
    );
  }
  if (plugin.apiVersion !== API_VERSION) {
    throw new UnlearnError(
      'UNLEARN_INCOMPATIBLE_API',
      `Plugin ${plugin.kind} "${plugin.name}" targets API version ${plugin.apiVersion}, but this @unlearnjs/core implements ${API_VERSION}; install versions that match.`,
      { details: { kind: plugin.kind, name: plugin.name, apiVersion: plugin.apiVersion, expected: API_VERSION } },
    );
  }
  const k = key(plugin.kind, plugin.name);
  const existing = reg.plugins.get(k);
  if (existing === plugin) return;
  if (existing) {
    throw new UnlearnError(
      'UNLEARN_DUPLICATE_PLUGIN',
      `A different ${plugin.kind} named "${plugin.name}" is already registered; choose another name.`,
      { details: { kind: plugin.kind, name: plugin.name } },
    );
  }
  reg.plugins.set(k, plugin as Plugin);
  container.register(pluginToken(plugin.kind, plugin.name), { useFactory: (c) => plugin.create(c) });
}

/**
 * List registered plugins.
 * @param container - the run's container
 * @param kind - only this kind
 * @returns descriptors, sorted by kind then name
 */
export function listPlugins(container: DependencyContainer, kind?: PluginKind): Plugin[] {
  return [...registryOf(container).plugins.values()]
    .filter((p) => kind === undefined || p.kind === kind)
    .sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
}

/**
 * Create an instance of a registered plugin.
 * @param container - the run's container
 * @param kind - plugin kind
 * @param name - plugin id
 * @returns a new instance
 * @throws UnlearnError `UNLEARN_UNKNOWN_PLUGIN`, listing what is registered for that kind
 */
export function createPlugin<K extends PluginKind>(container: DependencyContainer, kind: K, name: string): PluginInstanceByKind[K] {
  const reg = registryOf(container);
  if (!reg.plugins.has(key(kind, name))) {
    const known = listPlugins(container, kind).map((p) => p.name);
    throw new UnlearnError(
      'UNLEARN_UNKNOWN_PLUGIN',
      `No ${kind} named "${name}" is registered. Registered ${kind}s: ${known.length ? known.join(', ') : '(none)'}. Did you pass its register function to createContainer({ use: [...] })?`,
      { details: { kind, name, registered: known } },
    );
  }
  return container.resolve(pluginToken(kind, name)) as PluginInstanceByKind[K];
}

/** Options type of plugin `N` in a by-name map `M` (`unknown` for names not in the map). */
export type KnownOptions<M, N extends string> = N extends keyof M ? M[N] : unknown;

/** Typed {@link createPlugin} for unlearners: options typed by name through module augmentation. */
export function createUnlearner<N extends string>(c: DependencyContainer, name: N): Unlearner<KnownOptions<UnlearnerOptionsByName, N>> {
  return createPlugin(c, 'unlearner', name);
}
/** Typed {@link createPlugin} for pruners. */
export function createPruner<N extends string>(c: DependencyContainer, name: N): Pruner<KnownOptions<PrunerOptionsByName, N>> {
  return createPlugin(c, 'pruner', name);
}
/** Typed {@link createPlugin} for adapters. */
export function createAdapter<N extends string>(c: DependencyContainer, name: N): Adapter<KnownOptions<AdapterOptionsByName, N>> {
  return createPlugin(c, 'adapter', name);
}
/** Typed {@link createPlugin} for evaluators. */
export function createEvaluator<N extends string>(c: DependencyContainer, name: N): Evaluator<KnownOptions<EvaluatorOptionsByName, N>> {
  return createPlugin(c, 'evaluator', name);
}
/** Typed {@link createPlugin} for model factories. */
export function createModelFactory<N extends string>(c: DependencyContainer, name: N): ModelFactory<KnownOptions<ModelOptionsByName, N>> {
  return createPlugin(c, 'model', name);
}

/**
 * The services for one plugin call: the container's logger, progress and signal, and an Rng
 * forked from the run's root generator under `label` (so each call gets its own stream).
 * @param container - the run's container
 * @param label - names the call, e.g. `unlearn:ga`
 */
export function runServices(container: DependencyContainer, label: string): RunServices {
  return {
    logger: resolve(container, LOGGER),
    progress: resolve(container, PROGRESS),
    signal: resolve(container, ABORT_SIGNAL),
    rng: resolve(container, RNG).fork(label),
  };
}
